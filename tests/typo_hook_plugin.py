"""A stand-in third-party plugin whose hook name has a typo (no trailing "s"), and which also
registers a good model: a broken plugin is skipped whole, nothing of it half kept."""
from automl_guide import ModelSpec, hookimpl


@hookimpl
def automl_guide_register_model(register):
    register(ModelSpec("never", frozenset({"binary"}), build=lambda c, t, s: None,
                       search_space=lambda t, n: {}, default_config=lambda t, n: {}))
