"""LightGBM gradient-boosted trees, exported through onnxmltools' converter registered in skl2onnx.

Registered into skl2onnx, the converter turns the preprocessing and the booster into one graph
at automl-guide's opset (onnxmltools' own ``convert_lightgbm`` stops at opset 15). The
estimators (``lgb_estimators``) round each split threshold down to a float32 once fitted, so the
graph splits every row as LightGBM does, and on larger tables stop adding rounds that no longer
help (``_stopping``). lightgbm, ray and the converters are imported inside the functions that
need them: registering the plugin stays cheap.
"""
from __future__ import annotations

from typing import Any, Mapping

from automl_guide import ModelSpec, hookimpl

TASKS = frozenset({"binary", "multiclass", "regression"})


def _min_leaf_cap(n_rows: int) -> int:
    # a leaf of more than a tenth of the rows leaves small tables with stumps
    return max(10, min(100, n_rows // 10))


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    return {"n_estimators": tune.qrandint(50, 600, 25),
            "learning_rate": tune.loguniform(0.01, 0.3),
            "num_leaves": tune.lograndint(4, 128),
            "min_child_samples": tune.lograndint(2, _min_leaf_cap(n_rows)),
            "subsample": tune.uniform(0.6, 1.0),
            "colsample_bytree": tune.uniform(0.5, 1.0),
            "reg_lambda": tune.loguniform(1e-3, 10.0)}


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    # LightGBM's own defaults, with a slower rate, more rounds and light bagging
    return {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31,
            "min_child_samples": min(20, _min_leaf_cap(n_rows)), "subsample": 0.9,
            "colsample_bytree": 0.9, "reg_lambda": 1.0}


def _portfolio(task: str, n_rows: int) -> list[Mapping[str, Any]]:
    # small and strongly regularized, then large and slow: the two ends the default sits between
    leaf = _min_leaf_cap(n_rows)
    return [{"n_estimators": 200, "learning_rate": 0.1, "num_leaves": 8,
             "min_child_samples": leaf, "subsample": 0.8, "colsample_bytree": 0.8,
             "reg_lambda": 5.0},
            {"n_estimators": 500, "learning_rate": 0.03, "num_leaves": 64,
             "min_child_samples": max(2, leaf // 2), "subsample": 0.8, "colsample_bytree": 0.6,
             "reg_lambda": 1.0}]


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    from automl_guide_plugins.lgb_estimators import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if task == "regression" else LGBMClassifier
    # one thread like the other plugins (Ray runs trials side by side); subsample_freq=1 turns
    # bagging on, without it LightGBM ignores subsample
    return cls(n_jobs=1, random_state=seed, verbosity=-1, subsample_freq=1, **config)


def register_onnx() -> None:
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes, calculate_linear_regressor_output_shapes)

    from automl_guide_plugins.lgb_estimators import LGBMClassifier, LGBMRegressor

    update_registered_converter(
        LGBMClassifier, "AutomlGuideLightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes, convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    update_registered_converter(
        LGBMRegressor, "AutomlGuideLightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes, convert_lightgbm, options={"split": None})


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("lightgbm", TASKS, _build, _space, _default, portfolio=_portfolio,
                       register_onnx=register_onnx, relative_cost=0.5,
                       description="LightGBM gradient boosting (leaf-wise trees)"))
