"""Metrics by name: what the search optimises and what the card reports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from .errors import AutoMLGuideError


@dataclass(frozen=True)
class Metric:
    """A score of predictions: ``fn(y_true, output)`` where ``output`` is the class-probability
    matrix for classification tasks and the predicted values for regression."""

    name: str
    mode: str  # "max" or "min"
    tasks: frozenset[str]
    fn: Callable[[np.ndarray, np.ndarray], float]

    def better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b


def _labels(proba: np.ndarray) -> np.ndarray:
    return np.asarray(proba).argmax(axis=1)


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=range(proba.shape[1])))


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1.0)
    proba /= proba.sum(axis=1, keepdims=True)  # float32 models sum to 1 only within 1e-7
    return float(skm.log_loss(y, proba, labels=range(proba.shape[1])))


def _f1(y: np.ndarray, proba: np.ndarray) -> float:
    average = "binary" if proba.shape[1] == 2 else "macro"
    return float(skm.f1_score(y, _labels(proba), average=average))


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
    """The metric called ``name`` (the task's default when ``None``), checked against the task."""
    metric = METRICS.get(name or DEFAULT_METRIC[task])
    if metric is None:
        raise AutoMLGuideError(f"Unknown metric {name!r}; choose one of {', '.join(METRICS)}.")
    if task not in metric.tasks:
        usable = [m.name for m in METRICS.values() if task in m.tasks]
        raise AutoMLGuideError(f"Metric {name!r} does not apply to a {task} task; use one of "
                               f"{', '.join(usable)}.")
    return metric


def report(task: str, y: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """The task's standard metrics, for the card; a metric undefined on these rows is left out."""
    scores = {}
    for name in REPORTED[task]:
        try:
            scores[name] = METRICS[name].fn(y, output)
        except ValueError:  # e.g. ROC AUC on a test split holding a single class
            continue
    return scores
