"""Linear baselines: logistic regression (classification) and ridge regression."""
from __future__ import annotations

from typing import Any, Mapping

from sklearn.linear_model import LogisticRegression, Ridge

from automl_guide import ModelSpec, hookimpl


def _space(task: str, n_rows: int) -> Mapping[str, Any]:
    from ray import tune

    if task == "regression":
        return {"alpha": tune.loguniform(1e-4, 1e3)}
    return {"C": tune.loguniform(1e-3, 1e3)}


def _default(task: str, n_rows: int) -> Mapping[str, Any]:
    return {"alpha": 1.0} if task == "regression" else {"C": 1.0}


def _portfolio(task: str, n_rows: int) -> list[Mapping[str, Any]]:
    # stronger and weaker regularization than the default
    if task == "regression":
        return [{"alpha": 10.0}, {"alpha": 0.1}]
    return [{"C": 0.1}, {"C": 10.0}]


def _build(config: Mapping[str, Any], task: str, seed: int) -> Any:
    if task == "regression":
        return Ridge(random_state=seed, **config)
    return LogisticRegression(max_iter=2000, random_state=seed, **config)


@hookimpl
def automl_guide_register_models(register):
    register(ModelSpec("linear", frozenset({"binary", "multiclass", "regression"}), _build, _space,
                       _default, portfolio=_portfolio, needs_scaling=True, relative_cost=0.1,
                       description="LogisticRegression / Ridge on standardized features"))
