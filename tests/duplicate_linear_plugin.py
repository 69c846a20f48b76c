"""A stand-in third-party plugin that registers a model name a built-in already uses."""
from automl_guide import ModelSpec, hookimpl


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("linear", frozenset({"binary"}), build=lambda c, t, s: None,
                       search_space=lambda t, n: {}, default_config=lambda t, n: {}))
