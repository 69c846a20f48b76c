"""Support vector machines: SVC with sigmoid-calibrated (Platt) probabilities, and SVR.

Probabilities come from ``CalibratedClassifierCV(SVC(), ensemble=False)``, scikit-learn's
replacement for the deprecated ``SVC(probability=True)``; skl2onnx converts both parts.
"""
from __future__ import annotations

from typing import Any, Mapping

from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC, SVR

from automl_guide import ModelSpec, hookimpl


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    space = {"C": tune.loguniform(1e-2, 1e3), "gamma": tune.choice(["scale", 0.001, 0.01, 0.1]),
             "kernel": tune.choice(["rbf", "linear"])}
    if task == "regression":
        space["epsilon"] = tune.loguniform(1e-3, 1.0)
    return space


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    config = {"C": 1.0, "gamma": "scale", "kernel": "rbf"}
    return {**config, "epsilon": 0.1} if task == "regression" else config


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    if task == "regression":
        return SVR(cache_size=500, **config)
    svc = SVC(cache_size=500, random_state=seed, **config)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=3, ensemble=False)


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("svm", frozenset({"binary", "multiclass", "regression"}), _build, _space,
                       _default, needs_scaling=True, max_train_rows=4000, relative_cost=3.0,
                       description="scikit-learn SVC with calibrated probabilities / SVR"))
