"""One trial: build a model from a configuration, fit it on each validation split, score it.

No Ray here: the search stage calls :func:`evaluate_config` inside Ray Tune workers, and the
overhead benchmark calls the very same function in a plain loop.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .metrics import Metric
from .pipeline import build_model, model_output, train_rows
from .specs import ModelSpec


@dataclass(frozen=True)
class Fold:
    """Preprocessed matrices of one train/validation split."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True)
class TrialData:
    """Everything a trial needs, shipped once to the workers through Ray's object store.

    ``folds[needs_scaling]`` holds the splits preprocessed by the feature plugins, fitted on each
    split's training rows only, so trials spend their time fitting models.
    """

    folds: Mapping[bool, Sequence[Fold]]
    models: Mapping[str, ModelSpec]
    task: str
    classes: tuple[Any, ...]
    metric: Metric
    seed: int


def evaluate_config(config: Mapping[str, Any], data: TrialData) -> dict[str, Any]:
    """Mean validation score of ``config`` over the folds; an exception becomes an error row."""
    name = config.get("model", "?")
    start = time.perf_counter()
    try:
        spec = data.models[name]
        scores = []
        for fold in data.folds[spec.needs_scaling]:
            model = build_model(spec, config, data.task, data.seed, data.classes)
            rows = train_rows(spec, len(fold.y_train), data.seed)
            model.fit(fold.X_train[rows], fold.y_train[rows])
            score = data.metric.fn(fold.y_val, model_output(model, fold.X_val, data.task))
            scores.append(score)
        score = float(np.mean(scores))
        if not np.isfinite(score):
            raise ValueError(f"the {data.metric.name} score is {score}")
    except Exception as exc:  # a failing trial is recorded, never fatal
        return {"model": name, "score": float("nan"), "status": "error",
                "error": f"{type(exc).__name__}: {exc}", "fit_seconds": time.perf_counter() - start,
                "traceback": traceback.format_exc(limit=4)}
    return {"model": name, "score": score, "status": "ok", "error": "",
            "fit_seconds": time.perf_counter() - start, "traceback": ""}
