"""What flows through the search: the matrices a trial fits on (:class:`TrialData`, one
:class:`Fold` per validation split) and the record each trial leaves (:class:`TrialRecord`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from .metrics import Metric
    from .specs import ModelSpec

#: the error of a trial the search stopped because its share of the budget ended
BUDGET_RAN_OUT = "stopped when the search's time budget ran out"


@dataclass(frozen=True)
class Fold:
    """Preprocessed matrices of one train/validation split, the query ids of both sides when
    the run ranks (None otherwise), and the groups and times of its training rows (early
    stopping holds out as the run splits)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    q_train: np.ndarray | None = None
    q_val: np.ndarray | None = None
    structure: Any = None  # splits.Structure of the training rows, when the run has one


@dataclass(frozen=True)
class TrialData:
    """Everything a trial needs, shipped once to the workers through Ray's object store.

    ``folds[needs_scaling]`` holds the splits preprocessed by the feature plugins, fitted on each
    split's training rows only, so trials spend their time fitting models. ``stages`` > 1 makes
    iterative families (those with ``fit_stages``) report after each share of their training.
    """

    folds: Mapping[bool, Sequence[Fold]]
    models: Mapping[str, ModelSpec]
    task: str
    classes: tuple[Any, ...]
    metric: Metric
    seed: int
    stages: int = 1

    @property
    def n_splits(self) -> int:
        """How many validation splits each trial is fitted on."""
        return len(next(iter(self.folds.values())))

    @property
    def n_fit_rows(self) -> int:
        """The training rows of the first validation split: what a trial fits on."""
        return len(next(iter(self.folds.values()))[0].y_train)


@dataclass(frozen=True)
class TrialRecord:
    """One row of the leaderboard."""

    trial_id: str
    model: str
    config: Mapping[str, Any]
    score: float
    status: str  # ok | error | timeout
    error: str = ""
    fit_seconds: float = 0.0
    finished_at: float = 0.0  # seconds since the search started
    early_stopped: bool = False  # ASHA or the deadline stopped it; the score is from then
    node: str = ""
    score_se: float = float("nan")  # bootstrap standard error of the validation score
    predict_us: float = float("nan")  # prediction time per validation row, microseconds
