"""XGBoost gradient-boosted trees, exported through onnxmltools' converter registered in skl2onnx.

Trials on a GPU worker train with ``device="cuda"``; with ASHA, trials add their boosting rounds
in shares (training continues from the booster so far) and report after each share. Otherwise,
on 2,000 rows or more, a model stops adding rounds once a held-out tenth stops improving and is
refitted with that many (``_xgb_stopping``).
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from automl_guide import ModelSpec, hookimpl, trial_device


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    return {"n_estimators": tune.qrandint(50, 600, 25), "max_depth": tune.randint(2, 11),
            "learning_rate": tune.loguniform(0.01, 0.3), "subsample": tune.uniform(0.6, 1.0),
            "colsample_bytree": tune.uniform(0.5, 1.0),
            "min_child_weight": tune.loguniform(1.0, 20.0),
            "reg_lambda": tune.loguniform(1e-3, 10.0)}


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    return {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1, "subsample": 0.9,
            "colsample_bytree": 0.9, "min_child_weight": 1.0, "reg_lambda": 1.0}


def _portfolio(task: str, n_rows: int) -> list[Mapping[str, Any]]:
    # slower and smoother, shallow and fast, deep and regularized: configurations that win often
    # on tabular benchmarks (the kind FLAML and AutoGluon start from)
    return [{"n_estimators": 500, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8,
             "colsample_bytree": 0.8, "min_child_weight": 2.0, "reg_lambda": 1.0},
            {"n_estimators": 150, "max_depth": 3, "learning_rate": 0.2, "subsample": 1.0,
             "colsample_bytree": 1.0, "min_child_weight": 1.0, "reg_lambda": 1.0},
            {"n_estimators": 300, "max_depth": 8, "learning_rate": 0.05, "subsample": 0.8,
             "colsample_bytree": 0.6, "min_child_weight": 5.0, "reg_lambda": 5.0}]


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    from automl_guide_plugins import _xgb_stopping as stopping

    cls = stopping.StoppingXGBRegressor if task == "regression" else \
        stopping.StoppingXGBClassifier
    return cls(tree_method="hist", n_jobs=1, random_state=seed, device=trial_device(), **config)


def _fit_stages(estimator: Any, X: Any, y: Any, stages: int) -> Iterator[int]:
    """Add the configured boosting rounds in ``stages`` shares, yielding the rounds done."""
    total = int(estimator.n_estimators)
    done, booster = 0, None
    for end in sorted({max(1, round(total * k / stages)) for k in range(1, stages + 1)}):
        estimator.set_params(n_estimators=end - done)
        estimator.fit(X, y, xgb_model=booster)
        booster, done = estimator.get_booster(), end
        yield done
    estimator.set_params(n_estimators=total)


def register_onnx() -> None:
    import xgboost
    from automl_guide_plugins import _xgb_stopping as stopping
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes, calculate_linear_regressor_output_shapes)

    for classifier in (xgboost.XGBClassifier, stopping.StoppingXGBClassifier):
        update_registered_converter(
            classifier, f"XGBoost{classifier.__name__}", calculate_linear_classifier_output_shapes,
            convert_xgboost, options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    for regressor in (xgboost.XGBRegressor, stopping.StoppingXGBRegressor):
        update_registered_converter(
            regressor, f"XGBoost{regressor.__name__}", calculate_linear_regressor_output_shapes,
            convert_xgboost)


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("xgboost", frozenset({"binary", "multiclass", "regression"}), _build, _space,
                       _default, portfolio=_portfolio, register_onnx=register_onnx, fit_stages=_fit_stages,
                       uses_gpu=True,
                       description="XGBoost (hist) gradient boosting"))
