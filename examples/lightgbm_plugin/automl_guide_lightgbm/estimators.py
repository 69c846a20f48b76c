"""LightGBM estimators whose exported graph splits every row the way they do.

The graph holds split thresholds as float32 numbers; LightGBM places each threshold halfway
between two feature values in float64. When the two values are neighbouring float32 numbers
(on a large table some always are), that midpoint rounds to one of them, and rows with that
value go the other way in the graph: on a 112,500-row table the graph's probabilities were off
by up to 0.0096, and on a test table built for it by 0.75.

So these estimators round each split threshold down to the largest float32 at or below it,
once fitted. Their features are float32 (what the graph computes; they are cast if not), and
for a float32 value ``x``, ``x <= t`` exactly when ``x`` is at most that float32: the model
predicts what it predicted before, and its thresholds are numbers the graph holds exactly.
Imported only when a model is built or exported: lightgbm stays out of the registry's import.
"""
from __future__ import annotations

import re
from typing import Any

import lightgbm
import numpy as np


def _float32(X: Any) -> Any:
    return X.astype(np.float32) if hasattr(X, "astype") else np.asarray(X, dtype=np.float32)


def _round_down(value: str) -> str:
    threshold = float(value)
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
    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        super().fit(_float32(X), y, **kwargs)
        self._Booster = lightgbm.Booster(
            model_str=float32_thresholds(self._Booster.model_to_string()))
        return self

    def predict(self, X: Any, **kwargs: Any) -> Any:
        return super().predict(_float32(X), **kwargs)


class LGBMClassifier(_Float32Splits, lightgbm.LGBMClassifier):
    def predict_proba(self, X: Any, **kwargs: Any) -> Any:
        return super().predict_proba(_float32(X), **kwargs)


class LGBMRegressor(_Float32Splits, lightgbm.LGBMRegressor):
    pass
