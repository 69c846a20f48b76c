"""Support vector machines: SVC with sigmoid-calibrated (Platt) probabilities, and SVR.

Probabilities come from ``CalibratedClassifierCV(SVC(), ensemble=False)``, scikit-learn's
replacement for the deprecated ``SVC(probability=True)``. Both are exported by the converters of
:mod:`automl_guide_plugins._svm_onnx`, which compute in float64 as libsvm does: skl2onnx's own
SVM graphs sum in float32 and miss the export's tolerance once ``C`` is large.
"""
from __future__ import annotations

from typing import Any, Mapping

from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC, SVR

from automl_guide import ModelSpec, hookimpl


class CalibratedSVC(CalibratedClassifierCV):
    """scikit-learn's ``CalibratedClassifierCV``; its own class so that its converter is ours."""


class SVRegressor(SVR):
    """scikit-learn's ``SVR``; its own class so that its converter is ours."""


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
        return SVRegressor(cache_size=500, **config)
    svc = SVC(cache_size=500, random_state=seed, **config)
    return CalibratedSVC(svc, method="sigmoid", cv=3, ensemble=False)


def register_onnx() -> None:
    from automl_guide_plugins import _svm_onnx

    _svm_onnx.register(CalibratedSVC, SVRegressor)


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("svm", frozenset({"binary", "multiclass", "regression"}), _build, _space,
                       _default, needs_scaling=True, max_train_rows=4000, relative_cost=3.0,
                       register_onnx=register_onnx,
                       description="scikit-learn SVC with calibrated probabilities / SVR"))
