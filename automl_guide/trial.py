"""One trial: build a model from a configuration, fit it on each validation split, score it.

No Ray here: the search stage calls :func:`evaluate_config` inside Ray Tune workers, and the
overhead benchmark calls the very same function in a plain loop.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .metrics import defined_score
from .pipeline import LabelledClassifier, build_model, fit_params, model_output, train_rows
from .records import Fold, TrialData
from .runtime import fitting_rows, using_device
from .specs import ModelSpec

Report = Callable[[dict[str, Any]], None]
_DONE = object()


def evaluate_config(config: Mapping[str, Any], data: TrialData, report: Report | None = None,
                    device: str = "cpu") -> dict[str, Any]:
    """Mean validation score of ``config`` over the folds; an exception becomes an error row.

    Iterative families train all folds in lockstep and pass the mean score after each stage
    but the last to ``report`` (Ray Tune's ASHA decides from these whether to go on); the
    returned row is the final one, with ``stage == data.stages``."""
    name = config.get("model", "?")
    start = time.perf_counter()

    detail: dict[str, float] = {}

    def row(score: float, stage: int) -> dict[str, Any]:
        return {"model": name, "score": score, "status": "ok", "error": "", "stage": stage,
                "fit_seconds": time.perf_counter() - start, "traceback": "",
                "score_se": float("nan"), "predict_us": float("nan"),
                **(detail if stage == data.stages else {})}

    try:
        spec = data.models[name]
        with using_device(device):
            models = [build_model(spec, config, data.task, data.seed, data.classes)
                      for _ in data.folds[spec.needs_scaling]]
        folds = data.folds[spec.needs_scaling]
        # a ranker trains in one go: fit_stages has no way to pass it the query ids
        if spec.fit_stages is None or data.stages <= 1 or spec.needs_queries:
            for model, fold in zip(models, folds):
                fit_fold(spec, model, fold, data.seed)
            score = _score(models, folds, data, detail)
        else:
            runs = [_staged(spec, model, fold, data) for model, fold in zip(models, folds)]
            alive, score = list(range(len(runs))), float("nan")
            for stage in range(1, data.stages + 1):
                alive = [i for i in alive if next(runs[i], _DONE) is not _DONE]
                if not alive:
                    break
                score = _score(models, folds, data, detail if stage == data.stages else None)
                if stage < data.stages and report is not None and np.isfinite(score):
                    report(row(score, stage))
            if not detail:  # every fold stopped early: the same score, with its spread
                score = _score(models, folds, data, detail)
        if not np.isfinite(score):
            raise ValueError(f"the {data.metric.name} score is {score}")
    except Exception as exc:  # a failing trial is recorded, never fatal
        return {"model": name, "score": float("nan"), "status": "error", "stage": data.stages,
                "error": f"{type(exc).__name__}: {exc}", "fit_seconds": time.perf_counter() - start,
                "traceback": traceback.format_exc(limit=4)}
    return row(score, data.stages)


def fit_fold(spec: ModelSpec, model: Any, fold: Fold, seed: int) -> Any:
    """``model`` fitted on the fold's training rows (those the family trains on), with the
    query ids of a ranker, and the rows' groups and times for its early stopping."""
    rows = train_rows(spec, len(fold.y_train), seed)
    with fitting_rows(_rows_structure(fold, rows)):
        return model.fit(fold.X_train[rows], fold.y_train[rows],
                         **fit_params(spec, fold.q_train, rows))


def _staged(spec: ModelSpec, model: Any, fold: Fold, data: TrialData) -> Iterator[Any]:
    rows = train_rows(spec, len(fold.y_train), data.seed)
    X, y = fold.X_train[rows], fold.y_train[rows]
    steps = (model.fit_stages(spec.fit_stages, X, y, data.stages)
             if isinstance(model, LabelledClassifier)
             else spec.fit_stages(model, X, y, data.stages))
    structure = _rows_structure(fold, rows)
    while True:  # the folds step in turn: each step sees its own fold's rows
        with fitting_rows(structure):
            step = next(steps, _DONE)
        if step is _DONE:
            return
        yield step


def _rows_structure(fold: Fold, rows: np.ndarray) -> Any:
    """The groups and times of the fold's training ``rows``, for early stopping to hold out
    as the run splits; None when it splits at random."""
    return None if fold.structure is None else fold.structure.subset(rows)


def _score(models: Sequence[Any], folds: Sequence[Fold], data: TrialData,
           detail: dict[str, float] | None = None) -> float:
    """The mean validation score over the folds. With ``detail`` (the last stage), also its
    standard error (``score_se``: bootstrap over each fold's validation rows; NaN for ranking
    metrics, whose rows are not independent) and the prediction time per validation row
    (``predict_us``), which the leaderboard shows next to the score, and the validation outputs
    of all folds in order (``outputs``; not for ranking metrics), from which the driver builds
    an ensemble without fitting the trial again."""
    scores, spreads, seconds, rows, outputs = [], [], 0.0, 0, []
    for model, fold in zip(models, folds):
        start = time.perf_counter()
        output = model_output(model, fold.X_val, data.task)
        seconds, rows = seconds + time.perf_counter() - start, rows + len(fold.y_val)
        outputs.append(output)
        if data.metric.needs_queries:
            scores.append(data.metric.fn(fold.y_val, output, fold.q_val))
            spreads.append(float("nan"))
        else:
            scores.append(data.metric.fn(fold.y_val, output))
            if detail is not None:
                spreads.append(_bootstrap_se(data.metric.fn, fold.y_val, output, data.seed))
    if detail is not None:
        detail["score_se"] = float(np.sqrt(np.sum(np.square(spreads))) / len(spreads))
        detail["predict_us"] = 1e6 * seconds / max(rows, 1)
        if not data.metric.needs_queries:
            detail["outputs"] = np.concatenate(outputs)
    return float(np.mean(scores))


BOOTSTRAP_ROUNDS = 20


def _bootstrap_se(fn: Callable[..., float], y: np.ndarray, output: np.ndarray, seed: int
                  ) -> float:
    """Standard error of ``fn(y, output)`` over bootstrap resamples of the rows (NaN when the
    metric fails on most resamples, e.g. a class missing from tiny folds)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(BOOTSTRAP_ROUNDS):
        take = rng.integers(0, len(y), len(y))
        value = defined_score(fn, y[take], output[take])
        if value is not None:
            values.append(value)
    return float(np.std(values, ddof=1)) if len(values) >= BOOTSTRAP_ROUNDS // 2 else float("nan")
