"""LightGBM estimators whose exported graph splits every row the way they do.

The graph holds split thresholds as float32 numbers; LightGBM places each threshold halfway
between two feature values in float64. When the two values are neighbouring float32 numbers
(on a large table some always are), that midpoint rounds to one of them, and rows with that
value go the other way in the graph: on a 112,500-row table the graph's probabilities were off
by up to 0.0096, and on a test table built for it by 0.75.

So these estimators round each split threshold down to the largest float32 at or below it,
once fitted. Their float features are float32 (what the graph computes; float64 ones are cast,
a DataFrame's category columns are left as they are), and for a float32 value ``x``,
``x <= t`` exactly when ``x`` is at most that float32: the model predicts what it predicted
before, and its thresholds are numbers the graph holds exactly.

From 2,000 rows and 100 rounds they also stop adding rounds once those stop helping, as the
XGBoost family does (``_stopping``).

Imported only when a model is built or exported: lightgbm stays out of the registry's import.
A third-party plugin whose trees compare in float64 needs the same care; the plugin contract
(``automl_guide.testing.check_model_plugin``) catches it.
"""
from __future__ import annotations

import re
from typing import Any

import lightgbm
import numpy as np

from automl_guide_plugins import _stopping as stopping


def _float32(X: Any) -> Any:
    if hasattr(X, "select_dtypes"):  # a DataFrame: its float columns; categories stay categories
        floats = X.select_dtypes("floating").columns
        return X.astype({column: np.float32 for column in floats}) if len(floats) else X
    return X.astype(np.float32) if hasattr(X, "astype") else np.asarray(X, dtype=np.float32)


def _round_down(value: str) -> str:
    threshold = float(value)
    with np.errstate(over="ignore"):  # beyond float32: inf, then the largest float32
        rounded = np.float32(threshold)
    if float(rounded) > threshold:
        rounded = np.nextafter(rounded, np.float32(-np.inf))
    return repr(float(rounded))


def float32_thresholds(model: str) -> str:
    """A LightGBM text model with each numerical split's threshold rounded down to float32
    (categorical splits, whose thresholds index category sets, are left as they are)."""
    model = re.sub(r"(?m)^tree_sizes=.*\n", "", model)  # the trees' lengths in bytes: changed
    trees = re.split(r"(?m)^(?=Tree=)", model)  # the header, then one block per tree
    for i, tree in enumerate(trees[1:], 1):
        kinds = re.search(r"(?m)^decision_type=(.*)$", tree)
        if kinds is None:  # a tree of one leaf: no splits
            continue
        kinds = [int(kind) for kind in kinds.group(1).split()]
        trees[i] = re.sub(r"(?m)^threshold=(.*)$", lambda found: "threshold=" + " ".join(
            value if kind & 1 else _round_down(value)  # bit 0 set: a categorical split
            for kind, value in zip(kinds, found.group(1).split(), strict=True)), tree)
    return "".join(trees)


class _Float32Splits:
    def fit(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        rounds = int(self.n_estimators)
        if args or not stopping.applies(len(y), rounds, kwargs):
            return self._fit_float32(X, y, *args, **kwargs)  # small, short, or the caller's own
        rows = stopping.holdout(y, self.random_state,
                                stratify=not isinstance(self, lightgbm.LGBMRegressor))
        if rows is None:
            return self._fit_float32(X, y, **kwargs)
        fit_rows, held = rows
        self._fit_float32(stopping.take(X, fit_rows), stopping.take(y, fit_rows),
                          eval_set=[(stopping.take(X, held), stopping.take(y, held))],
                          eval_sample_weight=stopping.held_weights(kwargs, held),
                          callbacks=[lightgbm.early_stopping(stopping.patience(rounds),
                                                             verbose=False)],
                          **stopping.split_args(kwargs, fit_rows))
        self.set_params(n_estimators=int(self.best_iteration_ or rounds))
        return self._fit_float32(X, y, **kwargs)

    def _fit_float32(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("eval_set"):  # validation data is what the thresholds will meet, too
            kwargs["eval_set"] = [(_float32(X_eval), y_eval)
                                  for X_eval, y_eval in kwargs["eval_set"]]
        if kwargs.get("eval_X") is not None:  # lightgbm 4.6's name for it: one or a sequence
            given = kwargs["eval_X"]
            kwargs["eval_X"] = (type(given)(map(_float32, given))
                                if isinstance(given, (list, tuple)) else _float32(given))
        super().fit(_float32(X), y, *args, **kwargs)
        fitted = self._Booster
        self._Booster = lightgbm.Booster(
            model_str=float32_thresholds(fitted.model_to_string()))
        self._Booster.best_iteration = fitted.best_iteration  # not in the text model
        self._Booster.best_score = fitted.best_score
        return self

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        return super().predict(_float32(X), *args, **kwargs)


class LGBMClassifier(_Float32Splits, lightgbm.LGBMClassifier):
    def predict_proba(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        return super().predict_proba(_float32(X), *args, **kwargs)


class LGBMRegressor(_Float32Splits, lightgbm.LGBMRegressor):
    pass
