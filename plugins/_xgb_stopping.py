"""XGBoost estimators that stop adding rounds once they stop helping (imported only when an
XGBoost model is built: xgboost stays out of the registry's import)."""
from __future__ import annotations

from typing import Any

import xgboost

from automl_guide_plugins import _stopping as stopping


class _Stopping:
    """Stops adding rounds once they stop helping (``_stopping``), then refits the best number
    of rounds on every row."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        rounds = int(self.n_estimators)
        if not stopping.applies(len(y), rounds, kwargs):
            return super().fit(X, y, **kwargs)  # small data, few rounds, or ASHA's stages
        rows = stopping.holdout(y, self.random_state,
                                stratify=not isinstance(self, xgboost.XGBRegressor))
        if rows is None:
            return super().fit(X, y, **kwargs)
        fit_rows, held = rows
        self.set_params(early_stopping_rounds=stopping.patience(rounds))
        try:
            super().fit(X[fit_rows], stopping.take(y, fit_rows),
                        eval_set=[(X[held], stopping.take(y, held))],
                        sample_weight_eval_set=stopping.held_weights(kwargs, held),
                        **{"verbose": False, **stopping.split_args(kwargs, fit_rows)})
            best = int(getattr(self, "best_iteration", rounds - 1)) + 1
        finally:
            self.set_params(early_stopping_rounds=None)
        self.set_params(n_estimators=best)
        return super().fit(X, y, **kwargs)


class StoppingXGBClassifier(_Stopping, xgboost.XGBClassifier):
    pass


class StoppingXGBRegressor(_Stopping, xgboost.XGBRegressor):
    pass
