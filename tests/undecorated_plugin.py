"""A stand-in third-party plugin whose hook function lacks @hookimpl: pluggy ignores it."""
from automl_guide import ModelSpec


def automl_guide_register_models(register):
    register(ModelSpec("unseen", frozenset({"binary"}), build=lambda c, t, s: None,
                       search_space=lambda t, n: {}, default_config=lambda t, n: {}))
