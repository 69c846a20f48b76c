"""The refit stage: a chosen configuration's whole pipeline (the feature plugins' transformers
and the model) fitted on every training row."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .data import Dataset
from .pipeline import build_features, build_model, build_pipeline, fit_params, train_rows
from .runtime import fitting_rows
from .select import trial_key
from .specs import FeatureContext, ModelSpec


def refit(dataset: Dataset, rows: np.ndarray, plan: Mapping, spec: ModelSpec,
          params: Mapping[str, Any], seed: int, queries: np.ndarray | None = None,
          structure: Any = None) -> Any:
    """The pipeline of ``spec`` with ``params``, fitted on ``rows`` of ``dataset`` (the rows a
    family trains on, when it subsamples large tables); ``structure``: the ``splits.Structure``
    of the dataset's rows, which early stopping holds out by."""
    ctx = FeatureContext(dataset.task, spec.needs_scaling, len(rows), seed, dataset.codes)
    model = build_model(spec, params, dataset.task, seed, dataset.classes)
    pipeline = build_pipeline(dataset.columns, build_features(plan, ctx), model)
    rows = rows[train_rows(spec, len(rows), seed)]
    with fitting_rows(None if structure is None else structure.subset(rows)):
        return pipeline.fit(dataset.features.iloc[rows], dataset.y[rows],
                            **fit_params(spec, queries, rows, "model__"))


class Refits:
    """Each configuration refitted once, whichever export fails after it (keyed by
    :func:`~automl_guide.select.trial_key`)."""

    def __init__(self, dataset: Dataset, rows: np.ndarray, plan: Mapping,
                 specs: Mapping[str, ModelSpec], seed: int, queries: np.ndarray | None,
                 structure: Any = None):
        self._args = dataset, rows, plan, specs, seed, queries, structure
        self.done: dict[str, Any] = {}

    def __call__(self, model: str, params: Mapping[str, Any]) -> Any:
        key = trial_key(model, params)
        if key not in self.done:
            dataset, rows, plan, specs, seed, queries, structure = self._args
            self.done[key] = refit(dataset, rows, plan, specs[model], params, seed, queries,
                                   structure)
        return self.done[key]
