"""Bad input, as users feed it: each case gives one clear message and exit status 2 with no
traceback, or, where going on is right, a warning and a model. docs/reliability.md lists each
case with the test that proves it."""
from __future__ import annotations

import decimal
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from automl_guide.cli import main
from automl_guide.errors import DataError
from automl_guide.data import prepare

from conftest import shop_frame


def _fit(capsys, path, *extra: str) -> tuple[int, str]:
    code = main(["fit", str(path), "--target", "bought", "--max-trials", "2",
                 "--models", "linear", "--quiet", "--out", str(path.parent / "run"), *extra])
    return code, capsys.readouterr().err


def _csv(tmp_path, frame: pd.DataFrame, name: str = "data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


# Each case: how to make the file, and the whole of what the command prints ({path}: the file).
FAILING = {
    "empty_file": (lambda tmp: _write(tmp, b""), "{path} is empty: it has no header and no rows."),
    "header_only": (lambda tmp: _write(tmp, b"price,bought\n"),
                    "The table has a header but no rows."),
    "target_missing": (lambda tmp: _csv(tmp, shop_frame(60).drop(columns=["bought"])),
                       "Target column 'bought' is not in the data; columns are: 'price', "
                       "'visits', 'member', 'category', 'city', 'last_seen'."),
    "target_in_another_case": (lambda tmp: _csv(tmp, shop_frame(60).rename(
        columns={"bought": "Bought"})), "Target column 'bought' is not in the data (did you "
        "mean 'Bought'?); columns are: 'price', 'visits', 'member', 'category', 'city', "
        "'last_seen', 'Bought'."),
    "target_constant": (lambda tmp: _csv(tmp, shop_frame(60).assign(bought="yes")),
                        "Target 'bought' has a single class ('yes'); a classifier needs at "
                        "least two."),
    "target_all_missing": (lambda tmp: _csv(tmp, shop_frame(60).assign(bought=np.nan)),
                           "Target column 'bought' has no values (all missing)."),
    "duplicate_columns": (lambda tmp: _write(tmp, b"a,a,bought\n" + b"1,2,yes\n3,4,no\n" * 20),
                          "Could not read {path} as CSV: Duplicate column name(s) 'a' in "
                          "{path}; names must be unique."),
    "too_few_rows": (lambda tmp: _csv(tmp, shop_frame(12)),
                     "The table has only 12 rows with a target; automl-guide needs at least 20 "
                     "to hold out test rows and validate."),
    "not_text": (lambda tmp: _write(tmp, bytes(range(256)) * 4),
                 "{path} is not text in an encoding that could be told (invalid start byte at "
                 "byte 114 as utf-8); save it as UTF-8 and try again."),
    "only_the_target": (lambda tmp: _csv(tmp, shop_frame(60)[["bought"]]),
                        "No feature columns: the table holds only the target 'bought'."),
    "amounts_as_classes": (lambda tmp: _csv(tmp, shop_frame(60).assign(
        bought=[f"${k * 7.31:.2f}" for k in range(60)])),
        "Target 'bought' has 60 classes in 60 rows, and 60 rows are a class of their own: a "
        "classifier cannot learn a class from one row. They look like numbers written as text "
        "(e.g. '$0.00'): make them numbers and use task='regression'."),
    "target_infinite": (lambda tmp: _csv(tmp, shop_frame(60).assign(  # rows 0 and 1 dropped
        bought=np.r_[np.nan, np.nan, np.linspace(0, 1, 57), np.inf])),
        "Target 'bought' is infinite in 1 row(s) (row 59: inf); a regression needs finite "
        "values: drop those rows or cap them."),
}


def _write(tmp_path, payload: bytes):
    path = tmp_path / "data.csv"
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("case", sorted(FAILING))
def test_bad_input_is_one_clear_error_without_traceback(case, tmp_path, capsys):
    make, message = FAILING[case]
    path = make(tmp_path)
    code, err = _fit(capsys, path)
    assert code == 2, err
    errors = [line for line in err.splitlines() if not line.startswith("automl-guide: warning:")]
    assert errors == ["automl-guide: error: " + message.format(path=path)]  # one line, no more
    assert not (tmp_path / "run").exists()  # nothing half-written


@pytest.mark.parametrize("options,message", [
    (["--folds", "1", "--validation", "cv"], "--folds must be a whole number of at least 2, not 1"),
    (["--cpus-per-trial", "0"], "--cpus-per-trial must be a positive number of CPUs, not 0"),
    (["--time-budget", "-5"], "--time-budget must be a positive number of seconds"),
    (["--max-trials", "0"], "--max-trials must be a whole number of at least 1, not 0"),
    (["--trial-time-limit", "0"], "--trial-time-limit must be a positive number of seconds"),
    (["--searcher", "bayes"], "No searcher plugin named 'bayes'"),
    (["--out", "FILE"], "is a file; --out names a directory for the run's files")])
def test_bad_options_are_refused_by_name_before_any_work(options, message, tmp_path, capsys,
                                                        monkeypatch):
    from automl_guide import engine, search

    data = _csv(tmp_path, shop_frame(60))
    options = [str(data) if o == "FILE" else o for o in options]
    monkeypatch.setattr(engine, "load_table", lambda path: pytest.fail("the data was read"))
    monkeypatch.setattr(search, "ensure_ray", lambda *a, **k: pytest.fail("Ray was started"))
    code = main(["fit", str(data), "--target", "bought", "--quiet", "--out",
                 str(tmp_path / "run"), *options])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()  # refused before the run wrote anything


def test_options_that_mean_something_still_pass_the_checks():
    """0 s is no time limit (as before the checks), a whole float is a count, and folds do not
    matter for a holdout."""
    from automl_guide import load_registry
    from automl_guide.api import FitConfig
    from automl_guide.options import check_options

    config = check_options(FitConfig("bought", time_budget=0, max_trials=10.0, folds=1,
                                     validation="holdout"), load_registry())
    assert (config.time_budget, config.max_trials, type(config.max_trials)) == (None, 10, int)
    assert check_options(FitConfig(0), load_registry()).target == "0"  # frame column 0


@pytest.mark.parametrize("target,task,message", [
    (np.linspace(0, 1, 60), "multiclass", "These are numbers (e.g. 0.0): use task='regression'"),
    ([f"order-{k}" for k in range(60)], None, "Group the rare values, or predict something"),
    (np.arange(1000, 1060), "multiclass", "Every row has a value of its own, as ids do (e.g. "
                                          "1000): predict something else"),
    (np.repeat(np.arange(100, 141), [20] + [1] * 40), "multiclass",
     "If they are amounts (e.g. 100), use task='regression'; if they are ids")])
def test_a_target_of_mostly_one_row_classes_is_no_classification(target, task, message):
    with pytest.raises(DataError, match=r"Target 'bought' has \d+ classes in 60 rows, and \d+ rows "
                       r"are a class of their own: .*" + re.escape(message)):
        prepare(shop_frame(60).assign(bought=target), "bought", task)


@pytest.mark.parametrize("values,shown", [
    ([["red", "sale"], []], "lists (row 0: ['red', 'sale'])"),
    ([("red", "sale"), ()], "tuples (row 0: ('red', 'sale'))"),
    ([{"colour": "red"}, {}], "dicts (row 0: {'colour': 'red'})"),
    ([np.array([1, 2]), np.array([3])], "ndarrays (row 0: array([1, 2]))")])
def test_a_column_of_lists_is_refused_by_name_and_row(values, shown):
    """Lists, tuples, dicts or arrays in a column: one error naming the column and a row."""
    frame = shop_frame(60)
    frame["tags"] = pd.Series([values[k % 2] for k in range(60)], dtype=object)
    with pytest.raises(DataError) as caught:
        prepare(frame, "bought")
    assert str(caught.value) == (f"Column 'tags' holds {shown}; a column holds one number, "
                                 "text, date or boolean per row: spread the items over columns "
                                 "or join them into text.")


def test_a_csv_separated_by_semicolons_tabs_or_bars_reads_as_with_commas(tmp_path):
    """Spreadsheets write CSV with semicolons where the decimal mark is a comma; a comma in the
    header keeps the comma (text holding semicolons stays text), but a .tsv is tabs. A gzipped
    CSV's header is read uncompressed: the compressed bytes decided the separator, and one
    file in a few came back as a single column named 'a,b'."""
    from automl_guide.tables import load_table

    frame = shop_frame(30).assign(note=["a; b"] * 30)
    frame.to_csv(tmp_path / "comma.csv", index=False)
    expected = load_table(tmp_path / "comma.csv")
    assert expected["note"].eq("a; b").all()
    for sep, name in ((";", "semicolon.csv"), ("\t", "tab.csv"), ("|", "bar.csv")):
        frame.drop(columns="note").to_csv(tmp_path / name, index=False, sep=sep)
        pd.testing.assert_frame_equal(load_table(tmp_path / name), expected.drop(columns="note"))
    frame.rename(columns={"note": "a, b"}).to_csv(tmp_path / "comma_in_header.tsv", index=False,
                                                  sep="\t")
    assert load_table(tmp_path / "comma_in_header.tsv")["a, b"].eq("a; b").all()
    small = pd.DataFrame({"a": np.arange(50) * 7 % 1000, "b": np.linspace(0, 1, 50)})
    for seed in range(20):  # header bytes as compressed differ with the data
        small.assign(a=np.random.default_rng(seed).integers(0, 1000, 50)).to_csv(
            tmp_path / f"small{seed}.csv.gz", index=False)
        assert list(load_table(tmp_path / f"small{seed}.csv.gz").columns) == ["a", "b"]


def test_numbers_with_a_decimal_comma_in_a_semicolon_csv_are_numbers(tmp_path):
    """A spreadsheet's CSV where the decimal mark is a comma (12,5; thousands perhaps grouped by
    dots: 1.234,5) reads as the same numbers as a comma CSV; a column that is not all such numbers
    stays text, and so does one whose comma might be a list's (3,4,5)."""
    from automl_guide.tables import load_table

    frame = shop_frame(30)
    frame.loc[3, "price"], frame.loc[4, "price"] = 1234.5, None
    frame.to_csv(tmp_path / "comma.csv", index=False)
    frame.to_csv(tmp_path / "semicolon.csv", index=False, sep=";", decimal=",")
    expected, got = load_table(tmp_path / "comma.csv"), load_table(tmp_path / "semicolon.csv")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    text = pd.DataFrame({"grouped": ["1.234,5", "2,0"], "size": ["12,5 cm", "3"],
                         "ids": ["1,2", "3,4,5"], "mixed": ["1.5", "2,5"]})
    text.to_csv(tmp_path / "text.csv", index=False, sep=";")
    got = load_table(tmp_path / "text.csv")
    assert got["grouped"].tolist() == [1234.5, 2.0]
    kept = ["size", "ids", "mixed"]
    assert got[kept].equals(text[kept].astype(got["size"].dtype))


def test_a_target_of_lists_is_refused_by_name_and_row():
    frame = shop_frame(60).assign(bought=[["yes"] if k % 2 else ["no"] for k in range(60)])
    with pytest.raises(DataError, match=r"Column 'bought' holds lists \(row 0: \['no'\]\)"):
        prepare(frame, "bought")


def test_folds_beyond_the_training_rows_are_refused_by_name(tmp_path, capsys):
    code, err = _fit(capsys, _csv(tmp_path, shop_frame(30)), "--folds", "40", "--validation",
                     "cv")
    assert code == 2 and "Traceback" not in err, err
    assert ("folds is 40, and cross-validation needs from 2 to as many folds as there are "
            "training rows (24); give fewer folds, or validation='holdout'.") in err


def test_folds_beyond_the_groups_are_refused_by_name():
    from automl_guide.splits import validation_splits

    y, groups = np.arange(40) % 2, np.arange(40) // 10  # four customers of ten rows
    with pytest.raises(DataError) as caught:
        validation_splits(y, "binary", "cv", 5, seed=0, groups=groups)
    assert str(caught.value) == ("folds is 5, and cross-validation needs from 2 to as many folds "
                                 "as there are groups among the training rows (4); give fewer "
                                 "folds, or validation='holdout'.")
    assert len(validation_splits(y, "binary", "cv", 4, seed=0, groups=groups)) == 4


def test_a_small_table_of_many_classes_tests_and_validates_every_class():
    """25 rows of six classes: a 20 % test split (5 rows) cannot hold each class, so it takes
    six rows; the holdout of the rest too. Stratified, every class is on both sides."""
    from automl_guide.splits import test_split, validation_splits

    y = np.repeat(np.arange(6), [5, 4, 4, 4, 4, 4])
    train, test = test_split(y, "multiclass", 0.2, seed=0)
    assert len(test) == 6 and set(y[test]) == set(y[train]) == set(range(6))
    [(fit, val)] = validation_splits(y[train], "multiclass", "holdout", 5, seed=0)
    assert len(val) == 6 and set(y[train][val]) == set(y[train][fit]) == set(range(6))
    # two rows a class, the fewest a stratified split takes: one on each side
    few = np.repeat(np.arange(6), 2)
    train, test = test_split(few, "multiclass", 0.2, seed=0)
    assert sorted(few[test]) == sorted(few[train]) == list(range(6))
    # a table of usual size splits as sklearn does (the benchmarks' splits stay the same)
    from sklearn.model_selection import train_test_split

    many = np.repeat(np.arange(3), [50, 30, 20])
    expected = train_test_split(np.arange(100), test_size=0.2, random_state=0, stratify=many)
    assert [list(a) for a in test_split(many, "multiclass", 0.2, seed=0)] == [
        sorted(a) for a in expected]


def test_parquet_dates_and_decimals_are_dates_and_numbers(tmp_path):
    """read_parquet gives date32 columns as datetime.date objects and decimal128 ones as
    Decimals (object columns): they are dates and numbers, and score as the same values read
    from a CSV file do."""
    import datetime
    import decimal

    from automl_guide.columns import coerce_arrays

    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=k) for k in range(60)]
    amounts = [decimal.Decimal(f"{k * 1.25:.2f}") for k in range(60)]
    frame = shop_frame(60).assign(order_date=days, amount=amounts)
    frame.to_parquet(tmp_path / "orders.parquet")
    read = pd.read_parquet(tmp_path / "orders.parquet")
    assert isinstance(read["order_date"][0], datetime.date)
    assert isinstance(read["amount"][0], decimal.Decimal)
    columns = {c.name: c for c in prepare(read, "bought").columns}
    assert (columns["order_date"].kind, columns["amount"].kind) == ("datetime", "numeric")
    assert columns["amount"].maximum == pytest.approx(73.75)
    # a gap filled with 0.0 among the Decimals: still an amount, not an ID-like category
    filled = read.assign(amount=[0.0] + list(read["amount"][1:]))
    assert {c.name: c.kind for c in prepare(filled, "bought").columns}["amount"] == "numeric"
    as_csv = read.assign(order_date=pd.to_datetime(read["order_date"]),
                         amount=read["amount"].astype(float))
    wanted = [columns["order_date"], columns["amount"]]
    for name, values in coerce_arrays(read.head(7), wanted).items():
        np.testing.assert_array_equal(values, coerce_arrays(as_csv.head(7), wanted)[name])


def test_a_target_of_decimals_is_numbers_as_from_a_csv(tmp_path):
    """Parquet's decimal128 target (ratings, spend): class labels and regression values are
    numbers, as the same column read from a CSV gives; Decimal('NaN') is a missing target."""
    frame = shop_frame(60).drop(columns="bought")
    frame["rating"] = [decimal.Decimal(v) for v in ("4.5", "3.0", "NaN") * 20]
    frame["spend"] = [decimal.Decimal(f"{k * 1.37:.2f}") for k in range(60)]
    frame.to_parquet(tmp_path / "orders.parquet")
    read = pd.read_parquet(tmp_path / "orders.parquet")
    dataset, said = _warned(read.drop(columns="spend"), "rating")
    assert (dataset.task, dataset.classes, len(dataset.y)) == ("binary", (3.0, 4.5), 40)
    assert all(type(c) is float for c in dataset.classes)
    assert "Dropped 20 row(s) whose target 'rating' is missing" in said
    dataset, _ = _warned(read.drop(columns="rating"), "spend")
    assert dataset.task == "regression" and dataset.y[:3].tolist() == [0.0, 1.37, 2.74]


def test_unsigned_integers_beyond_int64_are_numbers_not_a_constant():
    from automl_guide.columns import coerce_arrays, profile_columns

    hashes = pd.DataFrame({"hash": np.array([2**63 + 5, 2**64 - 1, 2**63 + 10**15], np.uint64)})
    [info] = profile_columns(hashes)
    assert info.kind == "numeric" and info.minimum == pytest.approx(2.0**63)
    values = coerce_arrays(hashes, [info])[info.onnx_name]
    assert len(set(values.tolist())) == 3
    [small] = profile_columns(pd.DataFrame({"n": np.array([1, 2], np.uint64)}))
    assert small.kind == "integer"


def test_whole_numbers_beyond_int64_are_refused_at_predict_not_wrapped():
    """An integer column given 2**63 or 1e19 would wrap to another number in the graph's int64
    and be scored silently: it is an error naming the column and row."""
    from automl_guide.columns import ColumnInfo, coerce_arrays

    visits = ColumnInfo("visits", "visits", "integer", 0, (), 0.0, 29.0)
    for values in ([3, 2**63], [3.0, 1e19], ["3", "100000000000000000000"]):
        with pytest.raises(DataError, match=r"Column 'visits' needs whole numbers that fit in "
                           r"64 bits \(below 9.2e18\), but 1 value\(s\) do not fit: row 1"):
            coerce_arrays(pd.DataFrame({"visits": pd.Series(values, dtype=object)}), [visits])
    assert coerce_arrays(pd.DataFrame({"visits": [3, 2**62]}), [visits])["visits"][1] == 2**62


def test_a_numeric_column_missing_in_every_training_row_still_exports(tmp_path, ray_session):
    """A sparse column whose few values all fell in the test split: the refit's imputer keeps
    it (as 0) rather than dropping it, so the graph and the model take the same columns."""
    from automl_guide import fit_and_export, load
    from automl_guide.splits import test_split

    frame = shop_frame(200)
    y = prepare(frame, "bought").y
    _, test = test_split(y, "binary", 0.2, seed=0)
    frame["coupon"] = np.nan
    frame.loc[test[:2], "coupon"] = [5.0, 10.0]
    for family in ("linear", "decision_tree"):
        result = fit_and_export(frame, "bought", models=[family], max_trials=1,
                                time_budget=None, ensemble=False, out=tmp_path / family,
                                quiet=True)
        assert result.card["parity"]["passed"], family
        coupon = {c["name"]: c for c in result.card["inputs"]}["coupon"]  # kept, not dropped
        assert coupon["missing_in_training"] == 198
        np.testing.assert_allclose(
            load(tmp_path / family / "model.onnx").predict_proba(frame.drop(columns="bought")),
            result.model.predict_proba(frame.drop(columns="bought")), atol=1e-5)


def test_more_cpus_or_gpus_per_trial_than_a_node_has_are_cut_with_a_warning(ray_session):
    """Ray would wait for ever for a node that large, and the run with it. (The test session
    has two CPUs and two logical GPUs.)"""
    from automl_guide.search import schedulable

    with pytest.warns(RuntimeWarning, match=r"cpus_per_trial=64, but the largest node of the "
                      r"Ray cluster has 2 CPUs: each trial gets 2"):
        assert schedulable(64, 0) == (2, 0)
    with pytest.warns(RuntimeWarning, match=r"cpus_per_trial=64, but the largest node of the "
                      r"Ray cluster with the GPUs has 2 CPUs"):
        assert schedulable(64, 1) == (2, 1)
    with pytest.warns(RuntimeWarning, match=r"gpus_per_trial=3, but the Ray cluster's nodes "
                      r"have at most 2 GPUs"):
        assert schedulable(1, 3) == (1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert schedulable(0.5, 0.5) == (0.5, 0.5)
        assert schedulable(1, 3, uses_gpu=False) == (1, 3)  # no family would ask for them


def test_a_target_given_as_a_list_or_data_as_an_array_is_refused_by_name():
    from automl_guide import fit_and_export

    with pytest.raises(DataError, match=r"target must be one column name, not \['bought'\]"):
        fit_and_export(shop_frame(60), ["bought"], out=None)
    with pytest.raises(DataError, match="Expected a pandas DataFrame or the path of a CSV or "
                       "Parquet file, got ndarray"):
        fit_and_export(shop_frame(60).to_numpy(), "bought", out=None)


def _warned(frame: pd.DataFrame, target: str = "bought"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = prepare(frame, target)
    return dataset, " | ".join(str(w.message) for w in caught)


def test_column_all_missing_is_dropped_with_a_warning():
    dataset, said = _warned(shop_frame(60).assign(empty=np.nan))
    assert "'empty' is not used: all values are missing" in said
    assert "empty" not in dataset.features


def test_a_table_left_without_usable_columns_is_one_error_naming_each_and_why():
    frame = pd.DataFrame({"empty": [np.nan] * 30, "same": [1] * 30,
                          "order_id": [f"o{i}" for i in range(30)],
                          "bought": ["yes", "no", "no"] * 10})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError) as caught:
            prepare(frame, "bought")
    assert str(caught.value) == ("No usable feature columns: 'empty': all values are missing; "
                                 "'same': it holds a single value; 'order_id': it looks like an "
                                 "ID (a distinct value in every row)")


def test_id_like_column_is_dropped_with_a_warning():
    dataset, said = _warned(shop_frame(60).assign(order_id=[f"o{i}" for i in range(60)]))
    assert "'order_id' is not used: it looks like an ID" in said
    assert "order_id" not in dataset.features
    assert "order_id" not in [c.name for c in dataset.columns]


def test_column_identical_to_the_target_warns_of_leakage():
    frame = shop_frame(60)
    dataset, said = _warned(frame.assign(bought_copy=frame["bought"]))
    assert "'bought_copy'" in said and "leak" in said
    assert "bought_copy" not in dataset.features  # warned and not used
    assert [c.name for c in dataset.columns] == list(frame.columns.drop("bought"))


def test_infinities_become_missing_with_a_warning():
    from automl_guide.columns import coerce_arrays

    frame = shop_frame(60).assign(price=lambda f: f["price"].where(f.index % 7 != 0, np.inf))
    frame.loc[3, "price"] = -1e300  # finite, but float32 (what the model takes) cannot hold it
    dataset, said = _warned(frame)
    assert "'price' has 10 infinite value(s) (or beyond float32's range" in said
    assert dataset.columns[0].maximum is not None and np.isfinite(dataset.columns[0].maximum)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warning either
        typed = coerce_arrays(frame.head(5), dataset.columns[:1], by="name")["price"]
    assert np.isnan(typed[[0, 3]]).all() and np.isfinite(typed[[1, 2, 4]]).all()
    amounts = frame.assign(price=[decimal.Decimal(repr(v)) for v in frame["price"]])  # Parquet's
    assert _warned(amounts)[1] == said


def test_decimal_infinities_and_nans_are_missing_like_floats():
    from automl_guide.columns import coerce_arrays

    frame = shop_frame(8)
    frame["price"] = [decimal.Decimal(v) for v in ("1.5", "Infinity", "-Infinity", "NaN", "2",
                                                   "1e400", "3", "4")]
    info = [c for c in _warned(shop_frame(60))[0].columns if c.name == "price"]
    typed = coerce_arrays(frame, info, by="name")["price"]
    nan = np.nan
    np.testing.assert_array_equal(typed, np.array([1.5, nan, nan, nan, 2, nan, 3, 4], np.float32))


def test_mixed_types_in_one_column_are_treated_as_categories_with_a_warning():
    frame = shop_frame(60).assign(size=[3, "M", 4.5, "L"] * 15)
    dataset, said = _warned(frame)
    assert ("Column 'size' mixes numbers (30 rows) and text (e.g. 'M'); it is treated as "
            "categorical.") in said
    assert {c.name: c.kind for c in dataset.columns}["size"] == "categorical"


def test_strings_in_a_numeric_looking_column_are_categories_at_fit():
    frame = shop_frame(60).assign(price=["12.5", "cheap"] * 30)
    dataset, said = _warned(frame)
    assert {c.name: c.kind for c in dataset.columns}["price"] == "categorical"
    assert "Column 'price' mixes numbers (30 rows) and text (e.g. 'cheap')" in said


def test_amounts_written_as_text_are_categories_with_a_warning_that_says_so():
    """"19.99" as text stays categorical (codes such as "1001" are text of digits too), and the
    warning says how to make it a number; whole-number codes get no warning."""
    frame = shop_frame(60).assign(price=[f"{k + 0.99:.2f}" for k in range(60)],
                                  sku=[str(1000 + k % 7) for k in range(60)])
    with pytest.warns(UserWarning) as seen:
        dataset = prepare(frame, "bought")
    said = [str(w.message) for w in seen]
    assert ("Column 'price' holds numbers written as text (e.g. '0.99'); it is treated as "
            "categorical: make it numeric if it is an amount.") in said
    assert "Column 'price' is not used: it looks like an ID (a distinct value in every row)." \
        in said
    assert not any("'sku'" in w for w in said)
    assert {c.name: c.kind for c in dataset.columns}["sku"] == "categorical"
    # beyond the first 200 values, a float among the text: no crash, the same warning
    mixed = shop_frame(260).assign(code=["1001"] * 258 + ["19.99", 3.0])
    with pytest.warns(UserWarning, match=r"Column 'code' holds numbers written as text \(e.g. "
                      r"'19.99'\)"):
        assert "code" in prepare(mixed, "bought").features


def test_validation_is_k_fold_up_to_3000_training_rows_then_one_holdout():
    """cli.md: --validation auto is cv up to 3,000 training rows, else a 20 % holdout."""
    from automl_guide.splits import validation_splits

    for rows, expected in ((3000, 5), (3001, 1)):
        y = np.arange(rows) % 2
        splits = validation_splits(y, "binary", "auto", 5, seed=0)
        assert len(splits) == expected
        held = sum(len(val) for _, val in splits)
        assert held == (rows if expected == 5 else int(np.ceil(0.2 * rows)))


def test_a_class_with_one_sample_warns_and_fits(tmp_path, capsys, ray_session):
    frame = shop_frame(80).assign(bought=["yes", "no"] * 39 + ["no", "maybe"])
    with pytest.warns(UserWarning, match="'maybe' has a single row: it cannot be both learnt "
                      "and tested; splits are not stratified"):
        code, err = _fit(capsys, _csv(tmp_path, frame))
    assert code == 0, err
    # not stratified: the test split and the folds are scikit-learn's plain shuffled ones
    from sklearn.model_selection import KFold, train_test_split

    from automl_guide.splits import test_split, validation_splits

    y = pd.factorize(frame["bought"], sort=True)[0]
    train, test = test_split(y, "multiclass", 0.2, seed=0)
    plain = train_test_split(np.arange(80), test_size=0.2, random_state=0)
    assert np.array_equal(train, np.sort(plain[0])) and np.array_equal(test, np.sort(plain[1]))
    folds = validation_splits(y[train], "multiclass", "cv", 5, seed=0)
    kfold = KFold(5, shuffle=True, random_state=0).split(np.zeros(len(train)))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, kfold))


def test_datetime_strings_booleans_and_durations_are_typed(tmp_path):
    from automl_guide.columns import coerce_arrays

    took = pd.to_timedelta(np.arange(60) * 90 + 5, unit="s").to_series().reset_index(drop=True)
    frame = shop_frame(60).assign(
        when=pd.date_range("2024-01-01", periods=60, freq="D").strftime("%Y-%m-%d"),
        gift=[True, False, True] * 20, took=took, days=pd.to_timedelta(np.arange(60) % 9, "D"))
    dataset, _ = _warned(frame)  # a distinct duration in every row is no ID: it is kept
    columns = {c.name: c for c in dataset.columns}
    assert columns["when"].kind == "datetime" and columns["gift"].kind == "boolean"
    typed = coerce_arrays(frame, [columns["when"], columns["gift"]], by="name")
    assert typed["when"][:2].tolist() == [1704067200, 1704153600]  # epoch seconds, a day apart
    assert typed["gift"][:3].tolist() == [1, 0, 1] and typed["gift"].dtype == np.int64
    # a duration is a number of seconds, not a category per distinct timedelta
    assert columns["took"].kind == columns["days"].kind == "numeric"
    frame.loc[7, "took"] = pd.NaT
    seconds = coerce_arrays(frame, [columns["took"]], by="name")["took"]
    np.testing.assert_array_equal(seconds[:3], [5.0, 95.0, 185.0])
    assert np.isnan(seconds[7])
    # at predict time the same duration, or its seconds as a number, types the same
    one = coerce_arrays(pd.DataFrame({"took": [pd.Timedelta(minutes=2)]}), [columns["took"]])
    assert one[columns["took"].onnx_name].tolist() == [120.0]
    as_number = coerce_arrays(pd.DataFrame({"took": [120]}), [columns["took"]])
    assert as_number[columns["took"].onnx_name].tolist() == [120.0]
    # through a CSV file a timedelta is pandas' text for it ("0 days 00:01:35"): same seconds
    path = _csv(tmp_path, frame)
    read = pd.read_csv(path)
    assert not pd.api.types.is_timedelta64_dtype(read["took"].dtype)  # text
    assert read["days"][1] == "1 days"  # whole days are written without a time
    dataset, _ = _warned(read)
    read_info = {c.name: c for c in dataset.columns}
    assert read_info["took"].kind == read_info["days"].kind == "numeric"
    np.testing.assert_array_equal(coerce_arrays(read, [read_info["took"]], by="name")["took"],
                                  seconds)
    assert coerce_arrays(read.head(2), [read_info["days"]], by="name")["days"].tolist() == [
        0.0, 86400.0]
    # a duration text pandas cannot hold is refused by name, like any other bad number
    with pytest.raises(DataError, match=r"'took' needs numbers .*'200000 days 00:00:00'"):
        coerce_arrays(read.head(2).assign(took=["0 days 00:00:05", "200000 days 00:00:00"]),
                      [read_info["took"]])


def test_chinese_names_and_values_fit_and_predict(tmp_path, capsys, ray_session):
    frame = shop_frame(120).rename(columns={"category": "品类", "price": "价格(元)"})
    frame["品类"] = frame["品类"].map({"dress": "连衣裙", "shoes": "鞋", "bag": "包", "hat": "帽子"})
    path = _csv(tmp_path, frame)
    code, err = _fit(capsys, path)
    assert code == 0, err
    new = _csv(tmp_path, frame.drop(columns=["bought"]).head(5), "new.csv")
    assert main(["predict", str(tmp_path / "run"), str(new)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 6


def test_a_thousand_columns_fit(tmp_path, capsys, ray_session):
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(size=(150, 1000)), columns=[f"f{i}" for i in range(1000)])
    wide["bought"] = np.where(wide["f0"] + rng.normal(0, 0.5, 150) > 0, "yes", "no")
    code, err = _fit(capsys, _csv(tmp_path, wide))
    assert code == 0, err


def test_renamed_column_or_numbers_as_strings_at_predict_is_one_paragraph(tmp_path, capsys,
                                                                          ray_session):
    code, err = _fit(capsys, _csv(tmp_path, shop_frame(120)))
    assert code == 0, err
    rows = shop_frame(10, seed=3).drop(columns=["bought"])
    renamed = _csv(tmp_path, rows.rename(columns={"price": "Price"}), "renamed.csv")
    assert main(["predict", str(tmp_path / "run"), str(renamed)]) == 2
    err = capsys.readouterr().err
    assert "Missing column(s) 'price'" in err and "'Price'" in err
    assert err.startswith("automl-guide: error:") and "\n\n" not in err.strip()  # a paragraph
    wordy = _csv(tmp_path, rows.assign(price=["cheap"] * 10, visits=["many"] * 10), "wordy.csv")
    assert main(["predict", str(tmp_path / "run"), str(wordy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("automl-guide: error:") and "\n\n" not in err.strip()
    assert "2 columns have values the model cannot take" in err
    assert re.search(r"'price' needs numbers .*row 0: 'cheap'", err), err  # with sample rows
    assert re.search(r"'visits' needs numbers .*row 0: 'many'", err), err


def test_a_frame_made_from_an_array_fits_and_predicts_by_its_column_numbers(ray_session):
    """Column names 0, 1, ... (pd.DataFrame(array)) are made strings for the graph and the
    card; the loaded model takes such a frame too, one row or many; a column given twice is
    refused by name."""
    from automl_guide import fit_and_export

    frame = shop_frame(120)[["price", "visits", "bought"]]
    frame.columns = [0, 1, "bought"]
    result = fit_and_export(frame, "bought", models=["linear"], max_trials=1, time_budget=None,
                            out=None, quiet=True)
    assert [c["name"] for c in result.card["inputs"]] == ["0", "1"]
    rows = frame.drop(columns=["bought"])
    many = result.predictor.predict_proba(rows)
    assert len(many) == 120
    np.testing.assert_allclose(result.predictor.predict_proba(rows.iloc[[7]]), many[[7]])
    twice = pd.concat([rows, rows[[1]]], axis=1)
    with pytest.raises(DataError, match=r"Column\(s\) '1' appear more than once"):
        result.predictor.predict(twice)


def test_predict_warns_of_unseen_categories_and_strict_refuses_them(tmp_path, capsys,
                                                                    ray_session):
    from automl_guide import DriftWarning, load

    code, err = _fit(capsys, _csv(tmp_path, shop_frame(120)))
    assert code == 0, err
    rows = shop_frame(6, seed=4).drop(columns=["bought"]).assign(
        category=["dress", "scarf", "scarf", "hat", None, "bag"], price=[10, 20, 9999, 5, 6, 7])
    model = load(tmp_path / "run")
    with pytest.warns(DriftWarning) as caught:
        predictions = model.predict(rows)
    assert len(predictions) == 6
    said = str(caught[0].message)
    assert "'category': 2 row(s) with categories unseen in training ('scarf')" in said
    assert "'price': 1 row(s) outside the training range" in said
    with warnings.catch_warnings(record=True) as again:  # a service is not flooded: once per column
        warnings.simplefilter("always")
        model.predict(rows)
        model.predict(rows.assign(category="belt"))
    assert [str(w.message) for w in again if issubclass(w.category, DriftWarning)] == []
    with pytest.raises(DataError, match=r"(?s)strict mode.*'scarf'"):
        load(tmp_path / "run", strict=True).predict(rows)
    # a missing value where training had none (the card's missing_in_training: 0) is drift too
    gaps = rows.assign(city=[None] + list(rows["city"][1:]))
    gaps.loc[2, "last_seen"] = None
    with pytest.warns(DriftWarning, match=r"'city': 1 row\(s\) missing, none were in training; "
                      r"'last_seen': 1 row\(s\) missing"):
        load(tmp_path / "run").predict(gaps)
    with pytest.raises(DataError, match=r"(?s)strict mode.*'city': 1 row\(s\) missing"):
        load(tmp_path / "run", strict=True).predict(gaps.assign(category="dress", price=10))
    path = _csv(tmp_path, rows, "drift.csv")
    assert main(["predict", str(tmp_path / "run"), str(path), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "automl-guide: error: The input differs from the training data" in err


def test_missing_in_training_counts_what_the_model_takes_as_missing():
    """The card's missing_in_training (which predict-time drift compares with) counts "" and
    infinities too: they reach the model as missing, so rows like the training rows are no
    drift."""
    from automl_guide.columns import profile_columns

    frame = pd.DataFrame({"s": ["a", "", "b", None], "f": [1.0, np.inf, 2.0, 3.0],
                          "d": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04"])})
    assert {c.name: c.n_missing for c in profile_columns(frame)} == {"s": 2, "f": 1, "d": 1}


def test_missing_values_count_the_same_in_a_request_and_in_a_big_frame():
    """count_missing (the predictor's drift check) reads a few rows in Python and many with
    numpy; both agree with missing_mask for every typed column."""
    from automl_guide.columns import (MISSING_DATETIME, SMALL_FRAME_ROWS, count_missing,
                                      missing_mask)

    columns = {"numeric": np.array([1.0, np.nan, 2.0, np.nan], np.float32),
               "category": np.array(["a", "", "b", "c"], object),
               "datetime": np.array([5, MISSING_DATETIME, MISSING_DATETIME, 7], np.int64),
               "boolean": np.array([1, 0, 1, 1], np.int64)}
    for kind, values in columns.items():
        for n in (1, 4, SMALL_FRAME_ROWS + 1):
            typed = np.resize(values, n)
            assert count_missing(typed, kind) == int(missing_mask(typed, kind).sum()), (kind, n)
    assert count_missing(columns["datetime"], "datetime") == 2
    assert count_missing(columns["category"], "category") == 1


def test_a_user_schema_is_checked_lazily_at_fit(tmp_path, capsys):
    import pandera.pandas as pa

    schema = pa.DataFrameSchema({
        "price": pa.Column(float, pa.Check.ge(0), nullable=True),
        "visits": pa.Column(int, pa.Check.le(10)),
        "category": pa.Column(str, pa.Check.isin(["dress", "shoes", "bag"]), nullable=True)})
    (tmp_path / "schema.json").write_text(schema.to_json())
    frame = shop_frame(80).assign(price=lambda f: f["price"].where(f.index != 3, -1.0))
    code, err = _fit(capsys, _csv(tmp_path, frame), "--schema", str(tmp_path / "schema.json"))
    assert code == 2
    assert "does not match the schema you gave" in err
    for expected in ("column 'price': greater_than_or_equal_to(0)", "column 'visits'",
                     "column 'category'", "rows 3"):
        assert expected in err, err
    good = shop_frame(80).assign(visits=lambda f: f["visits"].clip(upper=10),
                                 category=lambda f: f["category"].replace("hat", "bag"))
    from automl_guide.schema import load_user_schema, validate_training

    validate_training(good, load_user_schema(tmp_path / "schema.json"))  # no error
    # a DataFrame with its own index (order ids): its rows are named by their labels
    orders = frame.set_axis([f"order-{i}" for i in range(len(frame))], axis=0)
    with pytest.raises(DataError, match=r"column 'price': greater_than_or_equal_to\(0\): 1 "
                       r"failure\(s\), e.g. -1.0 \(rows 'order-3'\)"):
        validate_training(orders, load_user_schema(tmp_path / "schema.json"))


def test_a_runs_own_schema_checks_the_next_training_table_as_the_model_takes_it():
    """A run's schema.json describes typed columns (float32, int64): reused with --schema to
    guard a retrain, it passes the very table it came from, warns of values beyond it and
    refuses a missing column or one whose kind changed."""
    from automl_guide.columns import coerce_frame
    from automl_guide.schema import from_json, infer_schema, to_json, validate_training

    frame = shop_frame(80)
    dataset = prepare(frame, "bought")
    schema = from_json(to_json(infer_schema(coerce_frame(dataset.features, dataset.columns,
                                                         by="name"), dataset.columns)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_training(frame, schema)
    with pytest.warns(UserWarning, match=r"goes beyond the earlier run's: 'price': 1 row\(s\) "
                      r"outside the training range"):
        validate_training(frame.assign(price=frame["price"].where(frame.index != 5, 1e6)), schema)
    with pytest.raises(DataError, match=r"lacks column\(s\) 'category' of the earlier run's"):
        validate_training(frame.drop(columns=["category"]), schema)
    with pytest.raises(DataError, match=r"(?s)Checked against an earlier run's schema .*'visits': dtype"):
        validate_training(frame.assign(visits=frame["visits"] + 0.5), schema)


def test_the_compiled_input_check_matches_pandera_on_every_call():
    from automl_guide.columns import coerce_frame, profile_columns
    from automl_guide.errors import DataError
    from automl_guide.schema import InputCheck, infer_schema

    frame = pd.DataFrame({"city": ["a", "b", "a", "c"], "n": [1, 2, 3, 4],
                          "x": [0.5, np.nan, 1.5, 2.0]})
    columns = profile_columns(frame)
    check = InputCheck(infer_schema(coerce_frame(frame, columns, by="name"), columns))
    assert check.fast and check._string_set == {"city"}
    good = coerce_frame(frame, columns, by="name")
    calls = []
    validate = check._validate
    check._validate = lambda typed: calls.append(1) or validate(typed)
    assert check(good) == {} and check(good) == {}
    assert len(calls) == 1  # the second call took the fast path
    drifted = good.assign(city=["a", "z", "z", "b"], x=np.float32([0.5, 9.0, 1.0, 1.0]))
    assert list(check(drifted).values()) == [
        "'city': 2 row(s) with categories unseen in training ('z'): rows 1, 2",
        "'x': 1 row(s) outside the training range [0.5, 2] (e.g. 9): row 1"]
    with pytest.raises(DataError, match="column 'city'"):  # same dtypes, a number among strings
        check(good.assign(city=pd.Series(["a", 5, "b", "c"], dtype=object)))
    with pytest.raises(DataError, match="strict mode"):
        check(drifted, strict=True)
    missing = good.assign(city=pd.Series(["a", None, "b", "c"], dtype=object))
    with pytest.raises(DataError, match="column 'city'"):  # same dtypes: fast path, still caught
        check(missing)


def test_nullable_and_unsigned_integers_are_checked_not_wrapped():
    from automl_guide.columns import ColumnInfo, coerce_column
    from automl_guide.errors import DataError

    info = ColumnInfo("visits", "visits", "integer")
    with pytest.raises(DataError, match="Column 'visits' needs whole numbers.*row 1: <NA>"):
        coerce_column(pd.Series([1, None, 3], dtype="Int64"), info)
    assert coerce_column(pd.Series([1, 2], dtype="Int64"), info).tolist() == [1, 2]
    assert coerce_column(pd.Series([4, 5], dtype=np.int32), info).dtype == np.int64


def _typed_columns():
    """A column of each kind in the dtypes requests bring (40 rows), with its ColumnInfo."""
    from automl_guide.columns import ColumnInfo

    n = 40
    rng = np.random.default_rng(0)
    floats = rng.normal(size=n)
    floats[[1, 2]] = [np.nan, np.inf]
    strings = np.array([f"c{k}" for k in rng.integers(0, 5, n)], dtype=object)
    with_none = strings.copy()
    with_none[3] = None
    frame = pd.DataFrame({
        "f": floats, "f32": floats.astype(np.float32), "i_num": rng.integers(-9, 9, n),
        "u8": rng.integers(0, 200, n).astype(np.uint8), "i64": rng.integers(-10**12, 10**12, n),
        "whole": rng.integers(0, 9, n).astype(float), "Int": pd.array(range(n), dtype="Int64"),
        "b": rng.random(n) < 0.5, "yn": np.where(rng.random(n) < 0.5, "yes", "no"),
        "s": strings, "s_none": with_none, "sd": pd.array(with_none, dtype="string"),
        "cat": pd.Categorical(strings), "n_as_s": rng.integers(0, 9, n),
        "t": strings + " is a review", "d": pd.date_range("2024-01-01", periods=n, freq="D"),
        "ds": [f"2024-02-{1 + k % 28:02d}" for k in range(n)],
        "dur": pd.to_timedelta(rng.integers(0, 10**6, n), unit="s").where(rng.random(n) < 0.9)})
    kinds = {"f": "numeric", "f32": "numeric", "i_num": "numeric", "u8": "integer",
             "i64": "integer", "whole": "integer", "Int": "integer", "b": "boolean",
             "yn": "boolean", "s": "categorical", "s_none": "categorical", "sd": "categorical",
             "cat": "categorical", "n_as_s": "categorical", "t": "text", "d": "datetime",
             "ds": "datetime", "dur": "numeric"}
    return frame, [ColumnInfo(name, name, kind) for name, kind in kinds.items()]


@pytest.mark.parametrize("values,typed", [([True, False], [1, 0]), ([1, 0], [1, 0]),
                                          (["yes", "No"], [1, 0]), (["TRUE", "false"], [1, 0]),
                                          ([2, 0], "row 0: 2"), ([-1, 1], "row 0: -1"),
                                          (["banana", "yes"], "row 0: 'banana'"),
                                          ([True, None], "row 1: None")])
def test_a_boolean_column_takes_true_false_one_zero_yes_no_and_names_anything_else(values,
                                                                                   typed):
    from automl_guide.columns import ColumnInfo, coerce_column

    info = ColumnInfo("member", "member", "boolean")
    if isinstance(typed, list):
        assert coerce_column(pd.Series(values, dtype=object), info).tolist() == typed
        return
    with pytest.raises(DataError, match=r"Column 'member' needs true or false \(or 1/0, "
                       r"yes/no\) without missing values, as in training, but 1 value\(s\) do "
                       r"not fit: " + re.escape(typed)):
        coerce_column(pd.Series(values, dtype=object), info)


def test_a_request_of_a_few_rows_is_typed_as_the_same_rows_in_a_big_frame():
    """Up to SMALL_FRAME_ROWS rows, coerce_arrays reads the frame as one object array (fast for
    single-row requests); each row must come out as it does from a frame read column by
    column, dtype included."""
    from automl_guide.columns import SMALL_FRAME_ROWS, coerce_arrays

    frame, columns = _typed_columns()
    assert len(frame) > SMALL_FRAME_ROWS
    whole = coerce_arrays(frame, columns)
    for rows in ([0], [1], [2, 3], list(range(SMALL_FRAME_ROWS))):
        part = coerce_arrays(frame.iloc[rows], columns)
        for c in columns:
            assert part[c.name].dtype == whole[c.name].dtype, c.name
            np.testing.assert_array_equal(part[c.name], whole[c.name][rows], err_msg=c.name)


def test_plain_columns_of_a_one_row_request_are_not_read_one_series_at_a_time(monkeypatch):
    from automl_guide import columns as module

    frame, columns = _typed_columns()
    plain = [c for c in columns if c.name in ("f", "f32", "i_num", "u8", "i64", "s", "cat", "t")]
    monkeypatch.setattr(module, "coerce_column", lambda *a: pytest.fail("read as a Series"))
    typed = module.coerce_arrays(frame.iloc[[0]], plain)
    assert typed["f"].dtype == np.float32 and typed["i64"].dtype == np.int64
    assert typed["s"].tolist() == [frame["s"].iloc[0]]


def test_a_bad_value_in_a_one_row_request_is_named_as_in_a_big_frame():
    from automl_guide.columns import ColumnInfo, coerce_arrays
    from automl_guide.errors import DataError

    frame = pd.DataFrame({"visits": [1.5], "age": ["old"]})
    columns = [ColumnInfo("visits", "visits", "integer"), ColumnInfo("age", "age", "numeric")]
    with pytest.raises(DataError, match=r"(?s)2 columns.*'visits' needs whole numbers.*row 0: 1\.5"
                       r".*'age' needs numbers.*row 0: 'old'") as error:
        coerce_arrays(frame, columns)
    assert "\n" in str(error.value)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-16", "latin-1"])
def test_a_csv_in_the_encoding_a_shops_excel_wrote_is_read_and_the_encoding_named(encoding,
                                                                                  tmp_path):
    """Chinese shops export GBK/GB18030 from Excel; UTF-16 and Latin-1 come from other tools.
    Each is read as written, with a warning naming the encoding (UTF-8 is read silently)."""
    from automl_guide.tables import load_table

    latin = encoding == "latin-1"
    frame = pd.DataFrame({
        "produit" if latin else "商品": (["café", "crème brûlée", "thé"] if latin
                                        else ["红色连衣裙 夏季", "跑步鞋", "手机"]) * 10,
        "prix" if latin else "价格": [199.0, 399.5, 1299.0] * 10,
        "bought": (["oui", "non", "oui"] if latin else ["是", "否", "是"]) * 10})
    path = tmp_path / "data.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    with pytest.warns(UserWarning, match=r"data\.csv is not UTF-8: read as \w+ \(told by "
                                         r"charset-normalizer\)"):
        read = load_table(path)
    pd.testing.assert_frame_equal(read, frame)


@pytest.mark.usefixtures("ray_session")
def test_a_gbk_csv_fits(tmp_path, capsys):
    frame = shop_frame(60).assign(city=lambda f: f["city"].map(lambda c: f"上海{c}"),
                                  bought=lambda f: f["bought"].map({"yes": "是", "no": "否"}))
    path = tmp_path / "orders.csv"
    path.write_bytes(frame.to_csv(index=False).encode("gbk"))
    with pytest.warns(UserWarning, match="orders.csv is not UTF-8: read as gb18030"):
        code, err = _fit(capsys, path)
    assert code == 0, err
    card = json.loads((tmp_path / "run" / "model_card.json").read_text())
    assert set(card["class_labels"]) == {"是", "否"}
