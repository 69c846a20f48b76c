"""XGBoost estimators that stop adding rounds once they stop helping (imported only when an
XGBoost model is built: xgboost stays out of the registry's import)."""
from __future__ import annotations

from typing import Any

import numpy as np
import xgboost

MIN_ROWS = 2000  # below this every row trains every round: a tenth held out would cost more
MIN_ROUNDS = 100
HOLDOUT = 0.1


class _Stopping:
    """Holds out a tenth of the training rows, boosts until the held-out loss has not improved
    for ``patience`` rounds, then refits the best number of rounds on every row. The fitted
    model has exactly those rounds, so the ONNX graph holds only the trees that predict."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        rounds = int(self.n_estimators)
        if len(y) < MIN_ROWS or rounds < MIN_ROUNDS or "xgb_model" in kwargs:
            return super().fit(X, y, **kwargs)  # small data, few rounds, or ASHA's stages
        from sklearn.model_selection import train_test_split

        stratify = None if isinstance(self, xgboost.XGBRegressor) else y
        try:
            fit_rows, held = train_test_split(np.arange(len(y)), test_size=HOLDOUT,
                                              random_state=self.random_state, stratify=stratify)
        except ValueError:  # a class too rare to split
            return super().fit(X, y, **kwargs)
        patience = min(50, max(10, rounds // 10))
        self.set_params(early_stopping_rounds=patience)
        try:
            super().fit(X[fit_rows], _take(y, fit_rows), verbose=False,
                        eval_set=[(X[held], _take(y, held))], **kwargs)
            best = int(getattr(self, "best_iteration", rounds - 1)) + 1
        finally:
            self.set_params(early_stopping_rounds=None)
        self.set_params(n_estimators=best)
        return super().fit(X, y, **kwargs)


def _take(y: Any, rows: np.ndarray) -> Any:
    return y.iloc[rows] if hasattr(y, "iloc") else np.asarray(y)[rows]


class StoppingXGBClassifier(_Stopping, xgboost.XGBClassifier):
    pass


class StoppingXGBRegressor(_Stopping, xgboost.XGBRegressor):
    pass
