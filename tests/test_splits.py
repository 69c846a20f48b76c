"""Splits that respect how a table's rows arrive: by group (--group-column) and by time
(--time-column). The end-to-end tests compare the test score a run reports with the score of
its model on data the run never saw (customers held outside the file, the next period)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from automl_guide import DataError, fit_and_export
from automl_guide import splits
from automl_guide.splits import Structure, from_columns, validation_splits

NOISE = 0.07  # about two standard errors of a test AUC on the 800-900 rows held out here
START = pd.Timestamp("2025-01-01")


def customers(n: int, rows: int, seed: int, first_id: int = 0) -> pd.DataFrame:
    """Each customer's rows share a propensity the features do not show (only a row's `x`
    does, weakly) and attributes (age, income) that tell the customer apart: a model can
    memorise known customers, and on new ones has only `x`."""
    rng = np.random.default_rng(seed)
    propensity = np.repeat(rng.normal(0, 2.0, n), rows)
    x = rng.normal(0, 1, n * rows)
    bought = rng.random(n * rows) < 1 / (1 + np.exp(-(0.7 * x + propensity)))
    return pd.DataFrame({"customer_id": np.repeat(np.arange(first_id, first_id + n), rows),
                         "age": np.repeat(rng.integers(18, 80, n), rows),
                         "income": np.repeat(rng.normal(50, 15, n).round(1), rows),
                         "x": x, "bought": bought.astype(int)})


def days(n: int, per_day: int, seed: int) -> pd.DataFrame:
    """A daily level that drifts (autoregressive, forgotten within days) moves every row's
    odds: rows of known days tell it, later days' cannot be known."""
    rng = np.random.default_rng(seed)
    level = np.zeros(n)
    for day in range(1, n):
        level[day] = 0.8 * level[day - 1] + rng.normal(0, 0.9)
    day = np.repeat(np.arange(n), per_day)
    x = rng.normal(0, 1, len(day))
    bought = rng.random(len(day)) < 1 / (1 + np.exp(-(0.7 * x + 1.5 * level[day])))
    return pd.DataFrame({"date": START + pd.to_timedelta(day, unit="D"), "x": x,
                         "z": rng.normal(0, 1, len(day)), "bought": bought.astype(int)})


def _reported_and_unseen(train: pd.DataFrame, unseen: pd.DataFrame, **options
                         ) -> tuple[float, float, dict]:
    result = fit_and_export(train, "bought", models=["random_forest"], max_trials=1,
                            time_budget=None, out=None, quiet=True, **options)
    scored = result.predict_proba(unseen.drop(columns="bought"))[:, 1]
    return (result.card["test_metrics"]["roc_auc"], roc_auc_score(unseen["bought"], scored),
            result.card)


@pytest.mark.slow
def test_a_group_column_reports_the_score_on_customers_the_model_never_saw(ray_session):
    train, unseen = customers(400, 10, seed=0), customers(200, 10, seed=1, first_id=1000)
    with pytest.warns(UserWarning, match=r"Column 'customer_id' looks like an identifier whose "
                      r"values repeat: \d+% of the test rows share one with training rows.*"
                      r"--group-column customer_id"):
        randomly, unseen_random, _ = _reported_and_unseen(train, unseen)
    assert randomly > unseen_random + 0.15  # known customers memorised: an optimistic figure
    grouped, unseen_grouped, card = _reported_and_unseen(train, unseen,
                                                         group_column="customer_id")
    assert abs(grouped - unseen_grouped) < NOISE
    assert card["validation"]["structure"]["split"] == (
        "by group (customer_id): no group on both sides")
    assert "customer_id" not in {c["name"] for c in card["inputs"]}  # a group is no feature


@pytest.mark.slow
def test_a_time_column_reports_the_score_of_the_next_period(ray_session):
    table = days(300, 15, seed=2)
    later = table["date"] >= START + pd.Timedelta(days=240)
    train, next_period = table[~later], table[later]
    with pytest.warns(UserWarning, match=r"Column 'date' holds times: .*--time-column date"):
        randomly, unseen_random, _ = _reported_and_unseen(train, next_period)
    assert randomly > unseen_random + 0.15  # the days around each test day were in training
    timed, unseen_timed, card = _reported_and_unseen(train, next_period, time_column="date")
    assert abs(timed - unseen_timed) < NOISE
    assert card["validation"]["structure"]["split"].startswith("by time (date)")
    assert "date" in {c["name"] for c in card["inputs"]}  # a feature unless said otherwise


def _tables(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 400))
    times = rng.integers(0, int(rng.integers(40, 200)), n)
    # groups of a few instants each (cohorts, sessions), so that later ones are mostly new
    return {"y": rng.integers(0, 2, n), "times": times.astype(float),
            "groups": times // 4 * 3 + rng.integers(0, 3, n)}


@pytest.mark.parametrize("seed", range(12))
def test_no_test_group_or_later_time_ever_reaches_training_or_validation(seed):
    """Every splitter with groups, times or both, for the test split and every validation
    split (holdout and folds), with and without a gap: a test group never trains, the test
    rows are all later than every training row (by more than the gap), and so on within the
    training rows for each validation split."""
    table = _tables(seed)
    for use_groups, use_times, gap in itertools.product((False, True), (False, True), (0, 3)):
        if not (use_groups or use_times) or (gap and not use_times):
            continue
        structure = Structure(table["groups"] if use_groups else None,
                              table["times"] if use_times else None, float(gap))
        train, test = splits.test_split(table["y"], "binary", 0.2, seed, structure=structure)
        _check_sides(structure, train, test)
        inner = structure.subset(train)
        for strategy in ("holdout", "cv"):
            for fit, val in validation_splits(table["y"][train], "binary", strategy, 3, seed,
                                              structure=inner):
                _check_sides(inner, fit, val)


def _check_sides(structure: Structure, earlier: np.ndarray, later: np.ndarray) -> None:
    assert len(earlier) and len(later) and not set(earlier) & set(later)
    if structure.groups is not None:
        assert not set(structure.groups[earlier]) & set(structure.groups[later])
    if structure.times is not None:
        assert structure.times[earlier].max() < structure.times[later].min() - structure.gap


def test_folds_chain_forward_in_periods_of_about_equal_rows():
    times = np.repeat(np.arange(40.0), 5)  # 40 instants of 5 rows
    folds = validation_splits(np.zeros(200, int), "regression", "cv", 3, 0,
                              structure=Structure(times=times))
    assert [(len(fit), len(val)) for fit, val in folds] == [(50, 50), (100, 50), (150, 50)]
    assert [times[val].min() for _, val in folds] == [10.0, 20.0, 30.0]
    [(fit, val)] = validation_splits(np.zeros(200, int), "regression", "holdout", 3, 0,
                                     structure=Structure(times=times, gap=2.0))
    assert times[val].min() == 32.0 and times[fit].max() == 29.0  # 30 and 31: the gap


def test_structure_columns_are_read_and_bad_ones_named():
    frame = pd.DataFrame({"shopper": ["a", None, "b", "a"], "month": [3, 1, 2, 3],
                          "when": ["2025-01-02", "2025-01-01", "soon", "2025-01-03"]})
    with pytest.warns(UserWarning, match=r"1 row\(s\) have no 'shopper'; each is taken as a "
                      "group of its own"):
        structure = from_columns(frame, "shopper", "month", 1)
    assert list(structure.groups) == [0, 1, 2, 0] and list(structure.times) == [3, 1, 2, 3]
    assert structure.gap == 1.0
    with pytest.raises(DataError, match=r"The time column 'when' has 1 row\(s\) without a time "
                       r"it can read \(rows 2, e.g. 'soon'\)"):
        from_columns(frame, None, "when")
    days_ = from_columns(frame.drop(index=2), None, "when", "1 day")
    assert days_.gap == pd.Timedelta(days=1).value and days_.times[1] < days_.times[0]
    with pytest.raises(DataError, match=r"time_gap 'a week' is not a duration such as '7 days'"):
        from_columns(frame.drop(index=2), None, "when", "a week")
    for bare in (7, "7"):  # pandas reads a bare 7 as 7 nanoseconds: no gap, silently
        with pytest.raises(DataError, match=r"time_gap .?7.? has no unit, and the time column "
                           r"holds dates: give one, such as '7 days'"):
            from_columns(frame.drop(index=2), None, "when", bare)
    with pytest.raises(DataError, match=r"group_column 'Shopper' is not a column of the data "
                       r"\(did you mean 'shopper'\?\)"):
        fit_and_export(frame.assign(bought=[0, 1, 0, 1]), "bought", group_column="Shopper",
                       out=None)


def test_early_stopping_holds_out_as_the_run_splits():
    """`holdout_rows`, which the boosting and ANN plugins stop on: the latest rows, or whole
    groups, of the rows being fitted; at random (the split it always made) otherwise."""
    from sklearn.model_selection import train_test_split

    from automl_guide import holdout_rows
    from automl_guide.runtime import fitting_rows

    y = np.arange(100) % 2
    fit, held = holdout_rows(y, 0.1, 7, stratify=True)
    assert [list(a) for a in (fit, held)] == [list(a) for a in train_test_split(
        np.arange(100), test_size=0.1, random_state=7, stratify=y)]
    times = np.repeat(np.arange(20.0), 5)[::-1]  # the latest rows first: order is no clue
    with fitting_rows(Structure(times=times)):
        fit, held = holdout_rows(y, 0.1, 7)
    assert times[held].min() > times[fit].max() and len(held) == 10
    groups = np.arange(100) // 4
    with fitting_rows(Structure(groups=groups)):
        fit, held = holdout_rows(y, 0.1, 7)
    assert not set(groups[fit]) & set(groups[held])


def test_trials_and_the_refit_fit_with_their_rows_structure(ray_session, tmp_path):
    """A model plugin sees, while fitting (in the trials' workers and in the refit), the
    groups of exactly the rows it is given."""
    from sklearn.linear_model import LogisticRegression

    from automl_guide import ExportError, ModelSpec, fit_structure, hookimpl

    log = tmp_path / "seen.txt"

    class Recording(LogisticRegression):
        def fit(self, X, y, **kwargs):
            structure = fit_structure()
            with open(log, "a") as out:
                out.write(f"{len(X)} {-1 if structure is None else len(structure.groups)}\n")
            return super().fit(X, y, **kwargs)

    class Plugin:
        @hookimpl
        def automl_guide_register_models(self, register):
            register(ModelSpec("recording", ("binary",), lambda p, task, seed: Recording(),
                               lambda task, n: {"C": __import__("ray").tune.choice([1.0])},
                               lambda task, n: {"C": 1.0}))

    frame = customers(40, 5, seed=3)
    with pytest.raises(ExportError):  # no ONNX converter: the fits are what is looked at
        fit_and_export(frame, "bought", models=["recording"], max_trials=1, time_budget=None,
                       out=None, quiet=True, plugins=[Plugin()], group_column="customer_id",
                       ensemble=False, validation="cv", folds=3)
    fits = [tuple(map(int, line.split())) for line in log.read_text().splitlines()]
    assert len(fits) == 4  # three folds in a worker, and the refit
    assert all(rows == groups for rows, groups in fits), fits


def test_the_suggestion_names_identifiers_not_columns_that_mention_a_customer():
    """Only a column named like an identifier whose many values repeat is taken for groups:
    not customer_age, a VisitorType of three values or a member flag."""
    from automl_guide.data import prepare

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"customer_id": np.repeat(np.arange(60), 5),
                          "customer_age": rng.integers(18, 80, 300),
                          "VisitorType": rng.choice(["new", "returning", "other"], 300),
                          "member": rng.random(300) < 0.5, "bought": rng.integers(0, 2, 300)})
    dataset = prepare(frame, "bought")
    train, test = splits.test_split(dataset.y, "binary", 0.2, 0)
    with pytest.warns(UserWarning) as caught:
        notes = splits.suggest(frame, dataset, train, test)
    assert len(notes) == 1 and notes[0].startswith("Column 'customer_id' looks like an "
                                                   "identifier whose values repeat")
    assert [str(w.message) for w in caught] == notes


def test_a_time_split_whose_side_holds_one_class_is_named_not_left_to_fail_every_trial():
    times = np.arange(100.0)
    y = (times >= 70).astype(int)  # the class appears only late: early periods hold one class
    with pytest.raises(DataError, match=r"The training rows of validation split 1 of 3 hold a "
                       r"single class \(split by time or group, they cannot be stratified\)"):
        validation_splits(y, "binary", "cv", 3, 0, structure=Structure(times=times))
    [(fit, val)] = validation_splits(y, "regression", "holdout", 3, 0,
                                     structure=Structure(times=times))  # no classes to keep
    assert times[val].min() == 80.0


def test_the_description_says_how_validation_went():
    timed = Structure(times=np.arange(5.0))
    assert timed.describe(None, "date") == (
        "by time (date): the latest rows tested, validation chained forward")
    assert timed.describe(None, "date", chained=False, tested=False) == (
        "by time (date): validation on the latest 20 %")
    both = Structure(np.arange(5), np.arange(5.0))
    assert both.describe("user", "date", chained=False) == (
        "by time (date): the latest rows tested, validation on the latest 20 %; by group "
        "(user): no group on both sides")
    assert Structure().describe(None, None) == "random rows"


def test_time_options_without_a_time_column_are_refused_by_name():
    frame = customers(5, 4, seed=0)
    for option in ({"time_gap": "7 days"}, {"time_column_not_feature": True}):
        name = next(iter(option))
        with pytest.raises(DataError, match=rf"{name} needs time_column: the column of times"):
            fit_and_export(frame, "bought", out=None, **option)
