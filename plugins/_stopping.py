"""Early stopping shared by the boosting families (XGBoost, LightGBM): which fits stop, on
which held-out rows, after how many rounds without improvement.

A fit from ``MIN_ROWS`` rows and ``MIN_ROUNDS`` rounds holds out a tenth of its rows, boosts
until their loss has not improved for ``patience(rounds)`` rounds, and is then refitted on every
row with the best number of rounds, so the exported graph holds only the trees that predict.
"""
from __future__ import annotations

from typing import Any

import numpy as np

MIN_ROWS = 2000  # below this every row trains every round: a tenth held out would cost more
MIN_ROUNDS = 100
HOLDOUT = 0.1


def applies(n_rows: int, rounds: int) -> bool:
    return n_rows >= MIN_ROWS and rounds >= MIN_ROUNDS


def patience(rounds: int) -> int:
    return min(50, max(10, rounds // 10))


def holdout(y: Any, seed: Any, stratify: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows to fit on and the tenth held out (stratified for classes); None when a class
    is too rare to split."""
    from sklearn.model_selection import train_test_split

    try:
        return tuple(train_test_split(np.arange(len(y)), test_size=HOLDOUT, random_state=seed,
                                      stratify=y if stratify else None))
    except ValueError:
        return None


def take(values: Any, rows: np.ndarray) -> Any:
    return values.iloc[rows] if hasattr(values, "iloc") else np.asarray(values)[rows]
