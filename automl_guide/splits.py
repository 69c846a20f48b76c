"""How a run splits its rows: the test rows held out before the search, and the validation
splits every trial is judged on. Random (stratified for classes) unless the table has a
structure a random split would cut through:

- **groups** (``--group-column``: customers, stores): no group on both sides of any split,
  so the scores are those of groups the model has never seen;
- **time** (``--time-column``): the test rows are the latest share of the time, and the
  validation splits chain forward (train on the past, validate on the next period), with an
  optional ``gap`` between the two;
- both: the split is by time, and the later side keeps only the groups that have no earlier
  rows (new groups, later), so that neither the future nor the group is seen in training.

Times are order keys (``float64``: nanoseconds for datetimes, the numbers themselves for a
numeric time column such as a month number); rows of one instant always stay together.
"""
from __future__ import annotations

import re
import shlex
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .errors import DataError, did_you_mean
from .options import spelled

CV_MAX_ROWS = 3000  # below this, k-fold CV; above, one stratified holdout
HOLDOUT = 0.2  # the validation share of a holdout


class Structure(NamedTuple):
    """What a split must respect, one value per row of the rows being split: groups, time
    order keys and the gap (in the time's units) between a training side and the later side."""

    groups: np.ndarray | None = None
    times: np.ndarray | None = None
    gap: float = 0.0

    @property
    def random(self) -> bool:
        """Neither groups nor times: rows are split at random."""
        return self.groups is None and self.times is None

    def subset(self, rows: np.ndarray) -> Structure:
        """The structure of ``rows`` (positions) of the rows it describes."""
        return Structure(None if self.groups is None else np.asarray(self.groups)[rows],
                         None if self.times is None else np.asarray(self.times)[rows], self.gap)

    def describe(self, group_column: str | None, time_column: str | None,
                 chained: bool = True, tested: bool = True) -> str:
        """How the rows were split, for the card and the report (``chained``: k-fold
        validation, else a holdout; ``tested``: test rows were held out)."""
        timed = (f"by time ({time_column}): "
                 + ("the latest rows tested, " if tested else "")
                 + ("validation chained forward" if chained else "validation on the latest 20 %"))
        parts = ([timed] if self.times is not None else []) + (
            [f"by group ({group_column}): no group on both sides"]
            if self.groups is not None else [])
        return "; ".join(parts) or "random rows"


def test_split(y: np.ndarray, task: str, test_size: float, seed: int,
               groups: np.ndarray | None = None, structure: Structure | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the train and test rows; stratified for classification where possible. With
    ``groups`` (e.g. customer ids) a group's rows all land on one side; with the
    ``structure``'s times, the test rows are the latest ``test_size`` of them."""
    if not 0 <= test_size < 1:
        raise DataError(f"{spelled('test_size')} is {test_size!r}; give a share of the rows in "
                        "[0, 1).")
    structure = structure or Structure(groups)
    index = np.arange(len(y))
    if test_size == 0:  # the caller tests on data of their own: every row trains
        return index, index[:0]
    if structure.times is not None:
        return later_split(structure, test_size, "test")
    if structure.groups is not None:
        return _group_split(index, structure.groups, test_size, seed)
    return _shuffle_split(index, y, test_size, seed,
                          task != "regression" and np.bincount(y).min() >= 2)


def _shuffle_split(index: np.ndarray, y: np.ndarray, size: float, seed: int, stratified: bool
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``index`` split in two, ``size`` of it on the second side. Stratified (every class has
    two rows or more), that side gets at least a row of each class: more rows than ``size``
    asks on a small table of many classes."""
    from sklearn.model_selection import train_test_split

    held: float | int = size
    if stratified:
        classes = len(np.unique(y[index]))
        if np.ceil(size * len(index)) < classes:
            held = classes
    first, second = train_test_split(index, test_size=held, random_state=seed,
                                     stratify=y[index] if stratified else None)
    return np.sort(first), np.sort(second)


def _group_split(index: np.ndarray, groups: np.ndarray, size: float, seed: Any
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``index`` split in two by whole groups, about ``size`` of them on the second side."""
    from sklearn.model_selection import GroupShuffleSplit

    first, second = next(GroupShuffleSplit(1, test_size=size, random_state=seed)
                         .split(index, groups=groups))
    return np.sort(first), np.sort(second)


def later_split(structure: Structure, share: float, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows before and from the instant where the latest ``share`` of the rows begins (the
    later side never empty, the earlier never either), less the earlier rows within ``gap`` of
    it and, with groups, the later rows of a group that has earlier ones."""
    times = np.asarray(structure.times, dtype=np.float64)
    ordered = np.sort(times)
    start = ordered[min(len(times) - 1, int(np.floor(len(times) * (1 - share))))]
    if start <= ordered[0]:  # the first instant holds the later share: the next one starts it
        later = ordered[ordered > ordered[0]]
        if not len(later):
            raise DataError(f"Every row has the same time: no {what} rows can come later than "
                            "training ones; give a time column that varies, or none.")
        start = later[0]
    return _sides(structure, times >= start, start)


def _sides(structure: Structure, later: np.ndarray, start: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """The rows before ``start`` less the gap, and the ``later`` rows less, with groups, those
    of a group that has earlier rows (the later side: new groups, later)."""
    earlier = np.asarray(structure.times, dtype=np.float64) < start - structure.gap
    if not earlier.any():
        raise DataError("No training rows are left before the later rows"
                        + (" once the gap is kept" if structure.gap else "")
                        + "; give a smaller test share or gap, or fewer folds.")
    if structure.groups is not None:
        later = later & ~np.isin(structure.groups, np.unique(np.asarray(structure.groups)[earlier]))
        if not later.any():
            raise DataError("Every group of the later rows also has earlier rows, so no rows "
                            "are left to test or validate on groups the model has not seen "
                            "later; give only the time column (or only the group column).")
    return np.flatnonzero(earlier), np.flatnonzero(later)


def forward_splits(structure: Structure, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` splits chained forward: the rows cut into ``folds + 1`` periods of about equal
    rows at instants, each period after the first validated on with every earlier row (less the
    gap, and the period's groups) as training. Fewer instants than periods is an error."""
    times = np.asarray(structure.times, dtype=np.float64)
    ordered = np.sort(times)
    starts = np.unique(ordered[[int(len(times) * k / (folds + 1)) for k in range(1, folds + 1)]])
    starts = starts[starts > ordered[0]]
    if len(starts) < folds:
        raise DataError(f"folds is {folds}, and the training rows have too few distinct times "
                        f"for {folds} periods after the first; give fewer folds, or "
                        "validation='holdout'.")
    ends = [*starts[1:], np.inf]
    return [_sides(structure, (times >= start) & (times < end), start)
            for start, end in zip(starts, ends)]


def validation_splits(y: np.ndarray, task: str, strategy: str, folds: int, seed: int,
                      groups: np.ndarray | None = None, structure: Structure | None = None
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/validation index pairs: one holdout (20 %) or ``folds``-fold CV, stratified; with
    ``groups``, no group is split between training and validation rows; with the
    ``structure``'s times, the holdout is the latest 20 % and the folds chain forward."""
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    structure = structure or Structure(groups)
    groups = structure.groups
    if strategy == "auto":
        strategy = "cv" if len(y) <= CV_MAX_ROWS else "holdout"
    if strategy not in ("cv", "holdout"):
        raise DataError(f"Unknown {spelled('validation')} {strategy!r}; choose auto, holdout "
                        "or cv.")
    stratified = task != "regression" and np.bincount(y).min() >= max(2, folds if strategy == "cv"
                                                                     else 2)
    index = np.arange(len(y))
    if strategy == "cv":
        units = len(y) if groups is None else len(np.unique(groups))
        if not 2 <= folds <= units:
            what = "training rows" if groups is None else "groups among the training rows"
            raise DataError(f"folds is {folds}, and cross-validation needs from 2 to as many "
                            f"folds as there are {what} ({units}); give fewer folds, or "
                            "validation='holdout'.")
    if structure.times is not None:
        return _two_classes(y, task, forward_splits(structure, folds) if strategy == "cv"
                            else [later_split(structure, HOLDOUT, "validation")])
    if groups is not None:
        if strategy == "holdout":
            return _two_classes(y, task, [_group_split(index, groups, HOLDOUT, seed)])
        splitter = (StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if stratified
                    else GroupKFold(folds))
        return _two_classes(y, task, list(splitter.split(index, y, groups)))
    if strategy == "holdout":
        return [_shuffle_split(index, y, HOLDOUT, seed, stratified)]
    splitter = (StratifiedKFold if stratified else KFold)(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _two_classes(y: np.ndarray, task: str, pairs: list) -> list:
    """``pairs`` of a split by time or group, each side with two classes or more: a side of
    one class (a rare class, a target that drifts) cannot be fitted or scored, and every
    trial would fail for it."""
    if task == "regression":
        return pairs
    for k, (fit, val) in enumerate(pairs, 1):
        for side, rows in (("training", fit), ("validation", val)):
            if len(np.unique(y[rows])) < 2:
                where = (f"validation split {k} of {len(pairs)}" if len(pairs) > 1
                         else "the holdout")
                raise DataError(f"The {side} rows of {where} hold a single class (split by time "
                                "or group, they cannot be stratified); give fewer folds, or "
                                "validation='holdout', or a larger test share.")
    return pairs


def from_columns(frame: pd.DataFrame, group_column: str | None, time_column: str | None,
                 gap: Any = None) -> Structure:
    """The structure the named columns of ``frame`` (the rows being split) give: groups as
    they are (a missing one a group of its own, with a warning), times as order keys (a
    column of numbers as they are, else datetimes; a missing time is an error naming rows)."""
    groups = times = None
    if group_column is not None:
        values = frame[group_column]
        groups = values.astype(object).to_numpy().copy()
        missing = values.isna().to_numpy()
        if missing.any():
            warnings.warn(f"{int(missing.sum())} row(s) have no {group_column!r}; each is taken "
                          "as a group of its own.", UserWarning, stacklevel=3)
            groups[missing] = [f"\0missing {i}" for i in np.flatnonzero(missing)]
        groups = pd.factorize(pd.Series(groups, dtype=object).astype(str))[0]
    numeric = False
    if time_column is not None:
        times, numeric = order_keys(frame[time_column], time_column)
    return Structure(groups, times, _gap(gap, numeric) if times is not None else 0.0)


def order_keys(values: pd.Series, name: str) -> tuple[np.ndarray, bool]:
    """A time column as float64 order keys, and whether it was numbers (else datetimes, as
    nanoseconds since the epoch, UTC where the times have offsets)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        keys, numeric = values.to_numpy(dtype=np.float64, na_value=np.nan), True
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas guessing a format: judged by the result
            stamps = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        raw = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
        keys = raw.astype(np.int64).astype(np.float64)
        keys[np.isnat(raw)] = np.nan
        numeric = False
    bad = np.flatnonzero(~np.isfinite(keys))
    if len(bad):
        raise DataError(f"The time column {name!r} has {len(bad)} row(s) without a time it can "
                        f"read (rows {', '.join(map(str, bad[:5]))}, e.g. "
                        f"{values.iloc[bad[0]]!r}): every row needs one to be placed in time.")
    return keys, numeric


def _gap(gap: Any, numeric: bool) -> float:
    if gap is None or gap == "" or gap == 0:
        return 0.0
    if not numeric and _is_number(gap):  # pandas would read 7 as 7 nanoseconds
        raise DataError(f"{spelled('time_gap')} {gap!r} has no unit, and the time column holds "
                        "dates: give one, such as '7 days' or '12h'.")
    try:
        value = float(gap) if numeric else float(pd.Timedelta(gap).value)
    except (TypeError, ValueError):
        what = "a number, as the time column is" if numeric else "a duration such as '7 days'"
        raise DataError(f"{spelled('time_gap')} {gap!r} is not {what}.") from None
    if not value >= 0:
        raise DataError(f"{spelled('time_gap')} must be 0 or more, not {gap!r}.")
    return value


def structure_columns(frame: pd.DataFrame, target: str, group_column: str | None,
                      time_column: str | None) -> list[str]:
    """The columns named to structure the splits, each checked to be a column of ``frame``
    other than the target (and not the same one twice)."""
    named = [(option, name) for option, name in (("group_column", group_column),
                                                 ("time_column", time_column)) if name is not None]
    for option, name in named:
        if name not in frame.columns:
            raise DataError(f"{spelled(option)} {name!r} is not a column of the data"
                            f"{did_you_mean(name, frame.columns)}.")
        if name == target:
            raise DataError(f"{spelled(option)} {name!r} is the target column.")
    if len(named) == 2 and group_column == time_column:
        raise DataError(f"{spelled('group_column')} and {spelled('time_column')} name the same "
                        f"column {group_column!r}.")
    return [name for _, name in named]


ID_WORDS = frozenset({"id", "ids", "key", "no", "nr", "number", "code"})
ENTITY_WORDS = frozenset({"customer", "user", "client", "member", "account", "buyer", "shopper",
                          "visitor", "session", "household", "patient", "store", "shop"})
MIN_GROUPS = 20  # fewer distinct values are categories (a member flag), not groups


def suggest(frame: pd.DataFrame, dataset: Any, train: np.ndarray, test: np.ndarray) -> list[str]:
    """Warnings for a table split at random whose rows look grouped (a column named like an
    identifier, ``Clothing ID``, ``customer``, of at least :data:`MIN_GROUPS` values that
    mostly repeat, shared by most test rows with training rows) or ordered (a datetime
    column), each naming the option that would respect it."""
    notes = []
    rows = frame.iloc[dataset.rows].reset_index(drop=True)
    for name in rows.columns:
        words = {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", str(name))}
        values = rows[name]
        named = bool(words & ID_WORDS) or bool(words) and words <= ENTITY_WORDS  # Clothing ID,
        if name == dataset.target or not named or not len(test):  # customer (not customer_age)
            continue
        counts = values.value_counts()
        if len(counts) < MIN_GROUPS or counts.median() < 2:  # a flag, or mostly one row each
            continue
        shared = float(np.isin(values.iloc[test].astype(str), values.iloc[train].astype(str))
                       .mean())
        if shared >= 0.5:
            notes.append(f"Column {name!r} looks like an identifier whose values repeat: "
                         f"{shared:.0%} of the test rows share one with training rows, so the "
                         f"test score is that of {name} values the model has seen; "
                         f"--group-column {shlex.quote(str(name))} (group_column= in Python) "
                         "tests on unseen ones.")
    for column in dataset.columns:
        if column.kind == "datetime":
            notes.append(f"Column {column.name!r} holds times: if the model will score rows "
                         "later than these, --time-column "
                         f"{shlex.quote(column.name)} (time_column= in Python) tests on the "
                         "latest rows; a random split tests on past and future mixed.")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return notes


def holdout_rows(y: Any, share: float, seed: Any, stratify: bool = False
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows to fit on and the ``share`` held out, for a model plugin that stops early on
    held-out rows: as the run splits (:func:`automl_guide.runtime.fit_structure`): the latest
    rows when it splits by time, whole groups when by group, else at random (stratified with
    ``stratify``). None when no such split exists (a class too rare, one instant)."""
    from sklearn.model_selection import train_test_split

    from .runtime import fit_structure

    structure, index = fit_structure(), np.arange(len(y))
    try:
        if structure is not None and structure.times is not None and len(structure.times) == len(y):
            return later_split(structure, share, "held-out")
        if structure is not None and structure.groups is not None and len(structure.groups) == len(y):
            return _group_split(index, structure.groups, share, seed)
        return tuple(train_test_split(index, test_size=share, random_state=seed,
                                      stratify=y if stratify else None))
    except (ValueError, DataError):
        return None


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
