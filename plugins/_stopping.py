"""Early stopping shared by the boosting families (XGBoost, LightGBM): which fits stop, on
which held-out rows, after how many rounds without improvement.

A fit from ``MIN_ROWS`` rows and ``MIN_ROUNDS`` rounds holds out a tenth of its rows, boosts
until their loss has not improved for ``patience(rounds)`` rounds, and is then refitted on every
row with the best number of rounds, so the exported graph holds only the trees that predict.
A caller's per-row fit arguments (sample weights) are split with the rows and weigh the
held-out loss too; a caller who brings their own evaluation set or callbacks boosts their way.
"""
from __future__ import annotations

from typing import Any

import numpy as np

MIN_ROWS = 2000  # below this every row trains every round: a tenth held out would cost more
MIN_ROUNDS = 100
HOLDOUT = 0.1

# fit arguments that hold one value per row: split with the rows (sample weights, margins)
ROW_ARGS = ("sample_weight", "base_margin", "init_score")
# fit arguments by which the caller stops or continues boosting their own way: left to them
OWN_ARGS = ("eval_set", "eval_X", "sample_weight_eval_set", "eval_sample_weight", "callbacks",
            "xgb_model", "init_model", "early_stopping_rounds")


def applies(n_rows: int, rounds: int, fit_args: dict | None = None) -> bool:
    return (n_rows >= MIN_ROWS and rounds >= MIN_ROUNDS
            and not set(fit_args or ()).intersection(OWN_ARGS))


def split_args(fit_args: dict, rows: np.ndarray) -> dict:
    """The fit arguments for a fit on ``rows``: the per-row ones (``ROW_ARGS``) taken there."""
    return {key: take(value, rows) if key in ROW_ARGS and value is not None else value
            for key, value in fit_args.items()}


def held_weights(fit_args: dict, held: np.ndarray) -> list | None:
    """The caller's sample weights of the held-out rows, as the one-entry list both libraries'
    evaluation-weight arguments take; None when the caller gave none."""
    weights = fit_args.get("sample_weight")
    return None if weights is None else [take(weights, held)]


def patience(rounds: int) -> int:
    return min(50, max(10, rounds // 10))


def holdout(y: Any, seed: Any, stratify: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows to fit on and the tenth held out: as the run splits its rows (the latest, or
    whole groups; else at random, stratified for classes); None when no such split exists."""
    from automl_guide import holdout_rows

    return holdout_rows(y, HOLDOUT, seed, stratify)


def take(values: Any, rows: np.ndarray) -> Any:
    return values.iloc[rows] if hasattr(values, "iloc") else np.asarray(values)[rows]
