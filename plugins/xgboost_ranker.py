"""XGBoost learning to rank (``rank:ndcg``) for the shop's ``rank`` task.

A pointwise classifier learns which rows are bought; a ranker learns which of one customer's
candidates come first, which is what NDCG@k and HitRate@k judge. On MovieLens 100k (shop
benchmark, three monthly test cutoffs, four seeds) the same trees trained with ``rank:ndcg``
ranked better than trained with ``binary:logistic``: NDCG@10 0.209-0.219 against 0.201-0.206,
HitRate@10 0.634-0.663 against 0.604-0.626 (``benchmarks/shop_ranking_study.py``). The family needs query ids (``ModelSpec.needs_queries``),
so it runs only where the run has them.
"""
from __future__ import annotations

from typing import Any, Mapping

from automl_guide import ModelSpec, hookimpl, trial_device


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    return {"objective": tune.choice(["rank:ndcg", "rank:pairwise"]),
            "n_estimators": tune.qrandint(100, 600, 25), "max_depth": tune.randint(2, 9),
            "learning_rate": tune.loguniform(0.01, 0.2), "subsample": tune.uniform(0.6, 1.0),
            "colsample_bytree": tune.uniform(0.5, 1.0),
            "min_child_weight": tune.loguniform(1.0, 30.0),
            "reg_lambda": tune.loguniform(1e-2, 10.0)}


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    return {"objective": "rank:ndcg", "n_estimators": 300, "max_depth": 4, "learning_rate": 0.03,
            "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 5.0,
            "reg_lambda": 1.0}


def _portfolio(task: str, n_rows: int) -> list[Mapping[str, Any]]:
    return [{**_default(task, n_rows), "n_estimators": 500, "max_depth": 6,
             "min_child_weight": 10.0, "reg_lambda": 5.0},
            {**_default(task, n_rows), "n_estimators": 150, "max_depth": 3,
             "learning_rate": 0.1},
            {**_default(task, n_rows), "objective": "rank:pairwise"}]


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    from automl_guide_plugins._xgb_ranking import XGBRankingScorer

    return XGBRankingScorer(random_state=seed, device=trial_device(), **config)


def register_onnx() -> None:
    import xgboost
    from automl_guide_plugins import _xgb_ranking
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes, calculate_linear_regressor_output_shapes)

    update_registered_converter(xgboost.XGBRanker, "XGBoostXGBRanker",
                                calculate_linear_regressor_output_shapes, convert_xgboost)
    update_registered_converter(
        _xgb_ranking.XGBRankingScorer, "AutomlGuideXGBRankingScorer",
        calculate_linear_classifier_output_shapes, _xgb_ranking.convert,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]})


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("xgboost_ranker", frozenset({"binary"}), _build, _space, _default,
                       portfolio=_portfolio, register_onnx=register_onnx, uses_gpu=True,
                       needs_queries=True, relative_cost=1.5,
                       description="XGBoost learning to rank (rank:ndcg) for the shop's rank "
                                   "task; needs query ids"))
