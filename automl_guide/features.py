"""The features stage: the feature plugins' transformers fitted on each validation split's
training rows, giving the matrices every trial of the search reuses (:class:`TrialData`)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .columns import coerce_frame
from .data import Dataset
from .metrics import Metric
from .pipeline import build_features
from .specs import FeatureContext, ModelSpec
from .records import Fold, TrialData


def fold_matrices(dataset: Dataset, train: np.ndarray, splits: Sequence, plan: Mapping,
                  specs: Mapping[str, ModelSpec], metric: Metric, seed: int,
                  stages: int = 1, queries: np.ndarray | None = None,
                  structure: Any = None) -> TrialData:
    """Each validation split of the ``train`` rows preprocessed by the feature plugins of
    ``plan``, once per scaling variant the families of ``specs`` need, with what a trial needs
    besides (``stages`` > 1: iterative families report after each share of their training;
    ``queries``: the query of each row, for ranking families; ``structure``: the
    ``splits.Structure`` of the ``train`` rows, whose groups and times early stopping keeps)."""
    typed = coerce_frame(dataset.features.iloc[train], dataset.columns)
    y = dataset.y[train]
    q = None if queries is None else np.asarray(queries)[train]
    variants = sorted({spec.needs_scaling for spec in specs.values()})
    folds: dict[bool, list[Fold]] = {scaled: [] for scaled in variants}
    for fit_rows, val_rows in splits:
        fit_part, val_part = typed.iloc[fit_rows], typed.iloc[val_rows]
        done: list[tuple[list, Any, tuple]] = []  # (columns, transformer, outputs)
        for scaled in variants:
            ctx = FeatureContext(dataset.task, scaled, len(fit_rows), seed, dataset.codes)
            blocks = []
            # what build_features' ColumnTransformer computes, block by block, so that a
            # plugin whose transformer does not depend on scaling (text) is fitted once for
            # both variants
            for _, transformer, cols in build_features(plan, ctx).transformers:
                same = next((out for on, other, out in done
                             if on == cols and same_estimator(other, transformer)), None)
                if same is None:
                    same = (_dense(transformer.fit_transform(fit_part[cols], y[fit_rows])),
                            _dense(transformer.transform(val_part[cols])))
                    done.append((cols, transformer, same))
                blocks.append(same)
            folds[scaled].append(Fold(np.hstack([b[0] for b in blocks]), y[fit_rows],
                                      np.hstack([b[1] for b in blocks]), y[val_rows],
                                      None if q is None else q[fit_rows],
                                      None if q is None else q[val_rows],
                                      None if structure is None else structure.subset(fit_rows)))
    return TrialData(folds, dict(specs), dataset.task, dataset.classes, metric, seed, stages)


def _dense(values: Any) -> np.ndarray:
    values = values.toarray() if hasattr(values, "toarray") else values
    return np.asarray(values, dtype=np.float32).reshape(len(values), -1)


def same_estimator(a: Any, b: Any) -> bool:
    """Whether two unfitted scikit-learn estimators are configured alike (same classes, same
    parameters all the way down), so that fitting one stands for fitting the other."""
    if type(a) is not type(b):
        return False
    if not hasattr(a, "get_params"):
        return _same_value(a, b)
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    return pa.keys() == pb.keys() and all(_same_value(pa[k], pb[k]) for k in pa)


def _same_value(a: Any, b: Any) -> bool:
    if hasattr(a, "get_params"):
        return same_estimator(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _same_value(x, z) for x, z in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same_value(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - objects that cannot compare are not the same
        return False
