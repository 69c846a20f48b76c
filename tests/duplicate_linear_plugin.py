"""A stand-in third-party plugin that registers a good model, then a model name a built-in
already uses (and asks to be called last, which must not make the built-in the one at fault)."""
from automl_guide import ModelSpec, hookimpl


@hookimpl(trylast=True)
def automl_guide_register_models(register):
    register(ModelSpec("borrowed", frozenset({"binary"}), build=lambda c, t, s: None,
                       search_space=lambda t, n: {}, default_config=lambda t, n: {}))
    register(ModelSpec("linear", frozenset({"binary"}), build=lambda c, t, s: None,
                       search_space=lambda t, n: {}, default_config=lambda t, n: {}))
