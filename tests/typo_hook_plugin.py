"""A stand-in third-party plugin whose hook name has a typo (no trailing "s"): pluggy would
never call it, so the mistake must be reported, not pass silently."""
from automl_guide import hookimpl


@hookimpl
def automl_guide_register_model(register):
    pass
