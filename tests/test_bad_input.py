"""Bad input, as users feed it: each case gives one clear message and exit status 2 with no
traceback, or, where going on is right, a warning and a model. docs/reliability.md lists each
case with the test that proves it."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl_guide.cli import main
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


FAILING = {
    "empty_file": (lambda tmp: _write(tmp, b""), "is empty"),
    "header_only": (lambda tmp: _write(tmp, b"price,bought\n"), "header but no rows"),
    "target_missing": (lambda tmp: _csv(tmp, shop_frame(60).drop(columns=["bought"])),
                       "Target column 'bought' is not in the data"),
    "target_constant": (lambda tmp: _csv(tmp, shop_frame(60).assign(bought="yes")),
                        "single class"),
    "target_all_missing": (lambda tmp: _csv(tmp, shop_frame(60).assign(bought=np.nan)),
                           "has no values"),
    "duplicate_columns": (lambda tmp: _write(tmp, b"a,a,bought\n" + b"1,2,yes\n3,4,no\n" * 20),
                          "Duplicate column name"),
    "too_few_rows": (lambda tmp: _csv(tmp, shop_frame(12)), "only 12 rows"),
    "not_utf8": (lambda tmp: _write(tmp, "价格,bought\n1,是\n".encode("gb18030") * 30),
                 "not UTF-8"),
}


def _write(tmp_path, payload: bytes):
    path = tmp_path / "data.csv"
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("case", sorted(FAILING))
def test_bad_input_is_one_clear_error_without_traceback(case, tmp_path, capsys):
    make, message = FAILING[case]
    code, err = _fit(capsys, make(tmp_path))
    assert code == 2, err
    assert message in err and err.startswith("automl-guide: error:")
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing half-written


def _warned(frame: pd.DataFrame, target: str = "bought"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = prepare(frame, target)
    return dataset, " | ".join(str(w.message) for w in caught)


def test_column_all_missing_is_dropped_with_a_warning():
    dataset, said = _warned(shop_frame(60).assign(empty=np.nan))
    assert "'empty' is not used: all values are missing" in said
    assert "empty" not in dataset.features


def test_id_like_column_is_dropped_with_a_warning():
    dataset, said = _warned(shop_frame(60).assign(order_id=[f"o{i}" for i in range(60)]))
    assert "'order_id' is not used: it looks like an ID" in said


def test_column_identical_to_the_target_warns_of_leakage():
    frame = shop_frame(60)
    dataset, said = _warned(frame.assign(bought_copy=frame["bought"]))
    assert "'bought_copy'" in said and "leak" in said


def test_infinities_become_missing_with_a_warning():
    frame = shop_frame(60).assign(price=lambda f: f["price"].where(f.index % 7 != 0, np.inf))
    dataset, said = _warned(frame)
    assert "'price'" in said and "infinite" in said
    assert dataset.columns[0].maximum is not None and np.isfinite(dataset.columns[0].maximum)


def test_mixed_types_in_one_column_are_treated_as_categories_with_a_warning():
    frame = shop_frame(60).assign(size=[3, "M", 4.5, "L"] * 15)
    dataset, said = _warned(frame)
    assert "'size'" in said and "mixes" in said
    assert {c.name: c.kind for c in dataset.columns}["size"] == "categorical"


def test_strings_in_a_numeric_looking_column_are_categories_at_fit():
    frame = shop_frame(60).assign(price=["12.5", "cheap"] * 30)
    dataset, _ = _warned(frame)
    assert {c.name: c.kind for c in dataset.columns}["price"] == "categorical"


def test_a_class_with_one_sample_warns_and_fits(tmp_path, capsys, ray_session):
    frame = shop_frame(80).assign(bought=["yes", "no"] * 39 + ["no", "maybe"])
    with pytest.warns(UserWarning, match="'maybe' has a single row"):
        code, err = _fit(capsys, _csv(tmp_path, frame))
    assert code == 0, err


def test_datetime_strings_and_booleans_are_typed(tmp_path):
    frame = shop_frame(60).assign(
        when=pd.date_range("2024-01-01", periods=60, freq="D").strftime("%Y-%m-%d"),
        gift=[True, False, True] * 20)
    dataset, _ = _warned(frame)
    kinds = {c.name: c.kind for c in dataset.columns}
    assert kinds["when"] == "datetime" and kinds["gift"] == "boolean"


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
    assert "Missing column(s) 'price'" in err and "'Price'" in err and "Traceback" not in err
    wordy = _csv(tmp_path, rows.assign(price=["cheap"] * 10, visits=["many"] * 10), "wordy.csv")
    assert main(["predict", str(tmp_path / "run"), str(wordy)]) == 2
    err = capsys.readouterr().err
    assert "2 columns have values the model cannot take" in err
    assert "'price' needs numbers" in err and "'visits' needs numbers" in err


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
    with pytest.raises(Exception, match=r"(?s)strict mode.*'scarf'"):
        load(tmp_path / "run", strict=True).predict(rows)
    path = _csv(tmp_path, rows, "drift.csv")
    assert main(["predict", str(tmp_path / "run"), str(path), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "automl-guide: error: The input differs from the training data" in err


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


def test_the_compiled_input_check_matches_pandera_on_every_call():
    from automl_guide.columns import coerce_frame, profile_columns
    from automl_guide.errors import DataError
    from automl_guide.schema import InputCheck, infer_schema

    frame = pd.DataFrame({"city": ["a", "b", "a", "c"], "n": [1, 2, 3, 4],
                          "x": [0.5, np.nan, 1.5, 2.0]})
    columns = profile_columns(frame)
    check = InputCheck(infer_schema(coerce_frame(frame, columns, by="name"), columns))
    assert check.fast and check._strings == ["city"]
    good = coerce_frame(frame, columns, by="name")
    calls = []
    validate = check._validate
    check._validate = lambda typed: calls.append(1) or validate(typed)
    assert check(good) == {} and check(good) == {}
    assert len(calls) == 1  # the second call took the fast path
    drifted = good.assign(city=["a", "z", "z", "b"], x=np.float32([0.5, 9.0, 1.0, 1.0]))
    assert list(check(drifted).values()) == [
        "'city': 2 row(s) with categories unseen in training ('z')",
        "'x': 1 row(s) outside the training range [0.5, 2] (e.g. 9)"]
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
