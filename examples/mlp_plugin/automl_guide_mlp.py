"""scikit-learn's multilayer perceptron as an automl-guide model plugin, in its own distribution.

It uses automl-guide's public API only. skl2onnx converts ``MLPClassifier`` and ``MLPRegressor``
itself, so the plugin registers no converter (``register_onnx``): a library skl2onnx does not
know needs one, as the built-in XGBoost and LightGBM plugins show. scikit-learn and ray are
imported inside the functions that need them, so registering the plugin stays cheap.
"""
from __future__ import annotations

from typing import Any, Mapping

from automl_guide import ModelSpec, hookimpl

TASKS = frozenset({"binary", "multiclass", "regression"})


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    return {"hidden": tune.lograndint(8, 256),
            "alpha": tune.loguniform(1e-6, 1e-1),
            "learning_rate_init": tune.loguniform(1e-4, 3e-2)}


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    return {"hidden": 64, "alpha": 1e-4, "learning_rate_init": 1e-3}


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPRegressor if task == "regression" else MLPClassifier
    # one hidden layer; a tenth of the rows held out to stop when they stop improving
    return cls(hidden_layer_sizes=(int(config["hidden"]),), alpha=config["alpha"],
               learning_rate_init=config["learning_rate_init"], max_iter=300,
               early_stopping=True, random_state=seed)


@hookimpl
def automl_guide_register_models(register):
    # needs_scaling: a network wants standardized inputs, which the feature plugins then give it
    register(ModelSpec("mlp", TASKS, _build, _space, _default, needs_scaling=True,
                       relative_cost=0.5,
                       description="scikit-learn MLP, one hidden layer (third-party example)"))
