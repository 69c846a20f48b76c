"""Greedy ensemble selection (Caruana et al., 2004) over the best trial of each model family.

After the search, the best completed trial of up to ``MAX_MEMBERS`` families gives its
validation outputs: those the trial sent back with its score (the search keeps them for the best
trial of each family), or, for a trial from before a ``--resume``, a refit on each validation
split's training rows, in this process and on the very matrices the trials used. Greedy
selection with replacement then adds, ``ROUNDS`` times, the member whose addition scores best
on validation; the weights are how often each was picked. The
ensemble is used only when it beats the best single trial on validation. It is exported as one
ONNX graph (see :func:`automl_guide.export.combine`), whose parity with the native
:class:`Ensemble` is checked like any export.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .metrics import Metric
from .pipeline import build_model, model_output
from .specs import ModelSpec
from .records import TrialData
from .trial import fit_fold

MAX_MEMBERS = 5
ROUNDS = 20


@dataclass(frozen=True)
class Member:
    model: str
    config: Mapping[str, Any]
    trial_id: str = ""


def candidates(board: pd.DataFrame, specs: Mapping[str, ModelSpec]) -> list[Member]:
    """The best completed trial of each family, best families first. Rankers are left out:
    their scores order one query's rows but are no probabilities to average."""
    ok = board[(board["status"] == "ok") & ~board["early_stopped"].astype(bool)]
    ok = ok[[not specs[m].needs_queries for m in ok["model"]]].drop_duplicates("model")
    return [Member(row["model"], json.loads(row["config"]), str(row["trial_id"]))
            for _, row in ok.head(MAX_MEMBERS).iterrows()]


def validation_outputs(members: Sequence[Member], data: TrialData,
                       known: Mapping[str, np.ndarray] | None = None
                       ) -> tuple[list[np.ndarray], np.ndarray]:
    """Each member's outputs on every validation split (concatenated), and the labels. Outputs
    ``known`` by trial id are used as they are; the other members are fitted again."""
    outputs = []
    for member in members:
        if known and member.trial_id in known:
            outputs.append(known[member.trial_id])
            continue
        spec = data.models[member.model]
        parts = []
        for fold in data.folds[spec.needs_scaling]:  # as the trial fitted it
            model = build_model(spec, member.config, data.task, data.seed, data.classes)
            fit_fold(spec, model, fold, data.seed)
            parts.append(model_output(model, fold.X_val, data.task))
        outputs.append(np.concatenate(parts))
    first = data.folds[next(iter(data.folds))]
    y = np.concatenate([fold.y_val for fold in first])
    if any(len(out) != len(y) for out in outputs):
        raise ValueError("a member's validation outputs do not match the validation rows")
    return outputs, y


def greedy_weights(outputs: Sequence[np.ndarray], y: np.ndarray, metric: Metric,
                   rounds: int = ROUNDS) -> tuple[np.ndarray, float]:
    """Weights (summing to 1) of greedy selection with replacement, and the ensemble's score.
    Starts from the best single member, so it is never worse than that member on validation."""
    scores = [metric.fn(y, out) for out in outputs]
    best = int(np.argmax(scores) if metric.mode == "max" else np.argmin(scores))
    counts = np.zeros(len(outputs))
    counts[best] = 1
    total = outputs[best].astype(np.float64).copy()
    score, kept = scores[best], counts.copy()
    for _ in range(rounds - 1):
        trial = [metric.fn(y, (total + out) / (counts.sum() + 1)) for out in outputs]
        pick = int(np.argmax(trial) if metric.mode == "max" else np.argmin(trial))
        counts[pick] += 1
        total += outputs[pick]
        if metric.better(trial[pick], score):  # keep the best selection seen so far
            score, kept = trial[pick], counts.copy()
    return kept / kept.sum(), float(score)


class Ensemble:
    """Native ensemble of fitted pipelines: the weighted mean of their probabilities (labels
    are its arg-max) or of their predicted values."""

    def __init__(self, pipelines: Sequence[Any], weights: Sequence[float], task: str,
                 classes: Sequence[Any]):
        self.pipelines, self.weights = list(pipelines), np.asarray(weights, dtype=np.float64)
        self.task, self.classes_ = task, np.asarray(classes, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return sum(w * p.predict_proba(frame) for w, p in zip(self.weights, self.pipelines))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            return sum(w * np.asarray(p.predict(frame), dtype=np.float64)
                       for w, p in zip(self.weights, self.pipelines))
        return self.classes_[self.predict_proba(frame).argmax(axis=1)]
