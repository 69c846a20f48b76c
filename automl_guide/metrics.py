"""Metrics by name: what the search optimises and what the card reports."""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from sklearn import exceptions as skm_exceptions
from sklearn import metrics as skm

from .errors import AutoMLGuideError


@dataclass(frozen=True)
class Metric:
    """A score of predictions: ``fn(y_true, output)`` where ``output`` is the class-probability
    matrix for classification tasks and the predicted values for regression. A ranking metric
    (``needs_queries``) is ``fn(y_true, output, queries)``: it judges the order of each query's
    rows (one customer at one cutoff) and needs a run with queries (the shop's rank task)."""

    name: str
    mode: str  # "max" or "min"
    tasks: frozenset[str]
    fn: Callable[..., float]
    needs_queries: bool = False

    def better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=range(proba.shape[1])))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    proba = np.maximum(np.asarray(proba, dtype=np.float64), 1e-15)  # a 0 would be -inf
    proba /= proba.sum(axis=1, keepdims=True)  # float32 models sum to 1 only within 1e-7
    return float(skm.log_loss(y, proba, labels=range(proba.shape[1])))


def _f1(y: np.ndarray, proba: np.ndarray) -> float:
    average = "binary" if proba.shape[1] == 2 else "macro"
    return float(skm.f1_score(y, _labels(proba), average=average))


def dcg_discounts(k: int) -> np.ndarray:
    """NDCG's discount of each of the first ``k`` ranks, 1 / log2(rank + 1): the one definition
    the search's ``ndcg@K`` and the shop leaderboard share."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at(k: int) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    """Mean NDCG@k over the queries with at least one positive row, each query's rows ordered
    by the positive class's probability (ties: the row order)."""
    discounts = dcg_discounts(k)

    def ndcg(y: np.ndarray, proba: np.ndarray, queries: np.ndarray) -> float:
        y, queries = np.asarray(y), np.asarray(queries)
        order = np.lexsort((-np.asarray(proba)[:, -1], queries))
        q, relevant = queries[order], (y[order] == 1).astype(float)
        starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
        position = np.arange(len(q)) - np.repeat(starts, np.diff(np.r_[starts, len(q)]))
        top = position < k
        gain = np.add.reduceat(np.where(top, relevant * discounts[np.minimum(position, k - 1)],
                                        0.0), starts)
        positives = np.add.reduceat(relevant, starts).astype(int)
        ideal = np.cumsum(discounts)[np.minimum(positives, k) - 1]
        judged = positives > 0
        if not judged.any():
            raise ValueError("no query has a positive row")
        return float(np.mean(gain[judged] / ideal[judged]))

    return ndcg


_CLS = frozenset({"binary", "multiclass"})
_REG = frozenset({"regression"})
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("roc_auc", "max", _CLS, _roc_auc),
    Metric("log_loss", "min", _CLS, _log_loss),
    Metric("accuracy", "max", _CLS, lambda y, p: float(skm.accuracy_score(y, _labels(p)))),
    Metric("balanced_accuracy", "max", _CLS,
           lambda y, p: float(skm.balanced_accuracy_score(y, _labels(p)))),
    Metric("f1", "max", _CLS, _f1),
    Metric("rmse", "min", _REG, lambda y, v: float(np.sqrt(skm.mean_squared_error(y, v)))),
    Metric("mae", "min", _REG, lambda y, v: float(skm.mean_absolute_error(y, v))),
    Metric("r2", "max", _REG, lambda y, v: float(skm.r2_score(y, v))),
]}
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
REPORTED = {"binary": ("roc_auc", "log_loss", "accuracy", "f1"),
            "multiclass": ("log_loss", "accuracy", "balanced_accuracy", "roc_auc"),
            "regression": ("rmse", "mae", "r2")}


def get_metric(name: str | None, task: str) -> Metric:
    """The metric called ``name`` (the task's default when ``None``), checked against the task.
    ``ndcg@K`` (binary tasks with queries) judges each query's order down to rank K."""
    ranking = re.fullmatch(r"ndcg@([1-9][0-9]*)", name or "")
    metric = (Metric(name, "max", frozenset({"binary"}), ndcg_at(int(ranking.group(1))),
                     needs_queries=True) if ranking else METRICS.get(name or DEFAULT_METRIC[task]))
    if metric is None:
        raise AutoMLGuideError(f"Unknown metric {name!r}; choose one of {', '.join(METRICS)} "
                               "(or ndcg@K in the shop's rank task).")
    if task not in metric.tasks:
        usable = [m.name for m in METRICS.values() if task in m.tasks]
        raise AutoMLGuideError(f"Metric {name!r} does not apply to a {task} task; use one of "
                               f"{', '.join(usable)}.")
    return metric


def report(task: str, y: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """The task's standard metrics, for the card; a metric undefined on these rows (ROC AUC
    on test rows of a single class) is left out."""
    scores = {name: defined_score(METRICS[name].fn, y, output) for name in REPORTED[task]}
    return {name: score for name, score in scores.items() if score is not None}


def defined_score(fn: Callable[..., float], *args: Any) -> float | None:
    """``fn(*args)``, or None where the metric is undefined on these rows (ROC AUC of a single
    class: scikit-learn raised a ValueError, and now warns and answers NaN); no warning leaks."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", skm_exceptions.UndefinedMetricWarning)
        # balanced accuracy over the classes the rows hold: a prediction of another class
        # counts as wrong, which is what the user wants to see, not a warning
        warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")
        try:
            score = float(fn(*args))
        except (ValueError, skm_exceptions.UndefinedMetricWarning):
            return None
    return score if math.isfinite(score) else None
