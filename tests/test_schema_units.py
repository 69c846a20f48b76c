"""Unit tests of the data contract (automl_guide.schema): the schema inferred at fit time, its
JSON, a user's schema, the checks at predict time and the messages each of them writes."""
from __future__ import annotations

import json
import os
import re
import warnings

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from automl_guide.columns import MISSING_DATETIME, ColumnInfo, coerce_frame, profile_columns
from automl_guide.errors import DataError
from automl_guide.schema import (RUN_SCHEMA_NAME, InputCheck, check_input, describe_failures,
                                 drift, from_json, infer_schema, load_user_schema, strict_error,
                                 summary, to_json, validate_training)

JAN_1, JAN_3 = 1704067200, 1704240000  # 2024-01-01 and 2024-01-03, seconds since the epoch


def training_frame() -> pd.DataFrame:
    """A column of each kind, with a missing value in the string, float and datetime ones."""
    return pd.DataFrame({
        "city": ["a", "b", "a", "", "c", "b"],
        "visits": [1, 2, 3, 4, 5, 6],
        "price": [0.5, np.nan, 1.5, np.inf, 2.0, 1.0],
        "seen": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-02", "2024-01-01",
                                "2024-01-02"])})


def run_schema(frame: pd.DataFrame | None = None):
    """The schema a run infers from ``frame`` (its typed columns, by raw name)."""
    frame = training_frame() if frame is None else frame
    columns = profile_columns(frame)
    return infer_schema(coerce_frame(frame, columns, by="name"), columns)


def one_column_schema(kind: str, values: list):
    """infer_schema of a single typed column ``c`` of the given kind."""
    return infer_schema(pd.DataFrame({"c": values}), [ColumnInfo("c", "c", kind)])


def statistics(schema, name: str) -> list[dict]:
    return [check.statistics for check in schema.columns[name].checks]


def scoring_frame(**changes) -> pd.DataFrame:
    """Typed input (as a request is coerced) that fits the training frame, with ``changes``."""
    typed = pd.DataFrame({
        "city": np.array(["a", "b", "c", "a"], dtype=object),
        "visits": np.array([1, 2, 3, 6], dtype=np.int64),
        "price": np.float32([0.5, np.nan, 2.0, 1.0]),
        "seen": np.array([JAN_1, MISSING_DATETIME, JAN_3, JAN_1], dtype=np.int64)})
    return typed.assign(**changes)


def pandera_calls(schema) -> list:
    """Count the full pandera validations of ``schema`` from now on."""
    calls: list = []
    validate = schema.validate
    schema.validate = lambda *args, **kwargs: calls.append(1) or validate(*args, **kwargs)
    return calls


# --- the schema inferred at fit time -------------------------------------------------------

def test_each_column_keeps_its_dtype_nullability_and_a_description_naming_its_onnx_input():
    schema = run_schema(training_frame().rename(columns={"price": "unit price"}))
    described = {name: (re.sub(r"^string\[\w+\]$", "str", str(column.dtype)),
                        column.nullable, column.description)
                 for name, column in schema.columns.items()}  # string[pyarrow]: pandas' str
    assert described == {
        "city": ("str", False, "categorical; ONNX input city"),
        "visits": ("int64", False, "integer; ONNX input visits"),
        "unit price": ("float32", True, "numeric; ONNX input unit_price"),
        "seen": ("int64", False, "datetime; ONNX input seen")}
    assert schema.name == RUN_SCHEMA_NAME and schema.strict is False


def test_the_category_set_holds_the_seen_strings_but_not_the_missing_marker():
    assert statistics(run_schema(), "city") == [{"allowed_values": ["a", "b", "c"]}]


def test_a_column_with_a_single_category_still_gets_its_set():
    assert statistics(one_column_schema("categorical", ["a", "", "a"]), "c") == [
        {"allowed_values": ["a"]}]


def test_a_string_column_that_is_always_missing_gets_no_category_set():
    assert statistics(one_column_schema("categorical", ["", ""]), "c") == []


def test_free_text_gets_no_category_set():
    assert statistics(one_column_schema("text", ["nice shoes", "too small", ""]), "c") == []


def test_a_category_set_is_kept_up_to_two_thousand_distinct_strings():
    codes = [f"code-{i:04d}" for i in range(2001)]
    kept = statistics(one_column_schema("categorical", codes[:2000]), "c")
    assert kept == [{"allowed_values": codes[:2000]}]
    assert statistics(one_column_schema("categorical", codes), "c") == []


def test_the_numeric_range_leaves_out_missing_and_infinite_values():
    expected = [{"min_value": 0.5, "max_value": 2.0, "include_min": True, "include_max": True}]
    assert statistics(run_schema(), "price") == expected
    typed = np.float32([np.inf, 0.5, np.nan, -np.inf, 2.0])  # coercion makes inf missing
    assert statistics(one_column_schema("numeric", typed), "c") == expected


def test_the_datetime_range_leaves_out_missing_dates():
    assert statistics(run_schema(), "seen") == [
        {"min_value": JAN_1, "max_value": JAN_3, "include_min": True, "include_max": True}]


def test_an_integer_range_keeps_the_smallest_int64_which_only_marks_a_missing_date():
    values = np.array([MISSING_DATETIME, 6], dtype=np.int64)
    assert statistics(one_column_schema("integer", values), "c") == [
        {"min_value": MISSING_DATETIME, "max_value": 6, "include_min": True,
         "include_max": True}]


def test_the_model_card_summary_lists_nullable_columns_category_sets_and_ranges():
    user = pa.DataFrameSchema({"z": pa.Column(str, pa.Check(lambda s: s != "", name="filled"))})
    schema = pa.DataFrameSchema({**run_schema().columns, **user.columns})
    assert summary(schema) == {"file": "schema.json", "columns": 5, "nullable": ["price"],
                               "category_sets": ["city"],
                               "ranges": ["price", "seen", "visits"]}


# --- the schema as JSON ---------------------------------------------------------------------

def test_the_json_is_indented_by_one_and_names_string_columns_plain_str():
    schema = infer_schema(
        pd.DataFrame({"city": np.array(["a", "b"], dtype=object), "n": [1, 3]}),
        [ColumnInfo("city", "city", "categorical"), ColumnInfo("n", "n", "integer")])
    expected = {
        "schema_type": "dataframe", "api": "pandas",
        "columns": {
            "city": {"description": "categorical; ONNX input city", "dtype": "str",
                     "isin": {"allowed_values": ["a", "b"], "raise_warning": True}},
            "n": {"description": "integer; ONNX input n", "dtype": "int64",
                  "in_range": {"min_value": 1, "max_value": 3, "include_min": True,
                               "include_max": True, "raise_warning": True}}},
        "name": RUN_SCHEMA_NAME}
    text = to_json(schema)
    assert json.loads(text) == expected
    assert text == json.dumps(expected, indent=1)


# --- a schema the user gives ----------------------------------------------------------------

USER_SCHEMA = pa.DataFrameSchema({"a": pa.Column(int, pa.Check.ge(0)), "b": pa.Column(str)})


def test_a_schema_object_is_taken_as_it_is():
    assert load_user_schema(USER_SCHEMA) is USER_SCHEMA


def test_a_missing_schema_file_is_named_in_the_error(tmp_path):
    path = tmp_path / "nowhere.json"
    with pytest.raises(DataError) as caught:
        load_user_schema(path)
    assert str(caught.value) == f"No schema file at {path}."


@pytest.mark.parametrize("name", ["schema.json", "schema.yaml", "schema.yml", "SCHEMA.YAML"])
def test_a_schema_file_is_read_as_json_or_by_its_suffix_as_yaml(tmp_path, name):
    path = tmp_path / name
    text = USER_SCHEMA.to_json() if name.endswith(".json") else USER_SCHEMA.to_yaml()
    path.write_text(text, encoding="utf-8")
    loaded = load_user_schema(str(path))
    assert list(loaded.columns) == ["a", "b"]
    assert statistics(loaded, "a") == [{"min_value": 0}]


def test_a_file_that_is_no_schema_is_named_in_the_error(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_user_schema(path)
    assert re.match(rf"^{re.escape(str(path))} is not a pandera schema \(JSON or YAML\): \S.*$",
                    str(caught.value), re.S)


def test_the_training_data_is_checked_against_the_users_schema_with_every_failure():
    frame = pd.DataFrame({"a": [-1, 2, -3], "b": ["x", None, "z"]})
    with pytest.raises(DataError) as caught:
        validate_training(frame, USER_SCHEMA)
    assert str(caught.value) == (
        "The training data does not match the schema you gave:\n"
        "  - column 'a': greater_than_or_equal_to(0): 2 failure(s), e.g. -1, -3 (rows 0, 2)\n"
        "  - column 'b': not_nullable: 1 failure(s), e.g. nan (rows 1)")
    validate_training(frame.assign(a=[1, 2, 3], b=["x", "y", "z"]), USER_SCHEMA)  # no error
    renamed = pd.DataFrame({"A": [1, 2], "b": ["x", "y"]})  # a column spelled otherwise
    with pytest.raises(DataError) as caught:
        validate_training(renamed, USER_SCHEMA)
    assert str(caught.value) == ("The training data does not match the schema you gave:\n"
                                 "  - no column 'a' (did you mean 'A'?)")


def test_a_dataframe_model_class_can_be_the_users_schema():
    class Orders(pa.DataFrameModel):
        a: int = pa.Field(ge=0)

    with pytest.raises(DataError) as caught:
        validate_training(pd.DataFrame({"a": [-1, 2]}), Orders)
    assert str(caught.value) == (
        "The training data does not match the schema you gave:\n"
        "  - column 'a': greater_than_or_equal_to(0): 1 failure(s), e.g. -1 (rows 0)")


def test_a_schema_that_stops_at_its_first_error_is_reported_with_that_error():
    class FirstErrorOnly:
        name = "first error only"

        def validate(self, frame, lazy=False):
            raise pa.errors.SchemaError(USER_SCHEMA, frame, "column 'a' is negative")

    with pytest.raises(DataError) as caught:
        validate_training(pd.DataFrame({"a": [-1]}), FirstErrorOnly())
    assert str(caught.value) == (
        "The training data does not match the schema you gave: column 'a' is negative")


# --- a run's own schema, given for the next training table -----------------------------------

def test_the_next_training_table_must_have_every_column_of_the_earlier_run():
    with pytest.raises(DataError) as caught:
        validate_training(training_frame().drop(columns=["city", "price"]), run_schema())
    assert str(caught.value) == ("The training data lacks column(s) 'city', 'price' of the "
                                 "earlier run's schema.")


def test_a_column_whose_name_onnx_rewrites_is_checked_by_its_raw_name():
    frame = training_frame().rename(columns={"price": "unit price"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_training(frame, from_json(to_json(run_schema(frame))))


def test_a_table_beyond_the_earlier_run_warns_once_at_the_callers_line():
    frame = training_frame().assign(visits=[1, 2, 3, 4, 5, 99],
                                    price=[0.5, np.nan, 1.5, np.inf, 2.0, -7.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validate_training(frame, run_schema())
    assert [(w.category, str(w.message)) for w in caught] == [(UserWarning, (
        "The training data goes beyond the earlier run's: "
        "'visits': 1 row(s) outside the training range [1, 6] (e.g. 99): row 5; "
        "'price': 1 row(s) outside the training range [0.5, 2] (e.g. -7): row 5"))]
    if "MUTANT_UNDER_TEST" not in os.environ:  # mutmut's trampoline adds a frame to the stack
        assert caught[0].filename == __file__  # the warning points at the caller's line


# --- failure descriptions -----------------------------------------------------------------------

def failure_cases(*rows) -> pd.DataFrame:
    """pandera's failure cases: (column, check, failure_case, index) per failing value."""
    return pd.DataFrame(list(rows), columns=["column", "check", "failure_case", "index"])


def test_a_failure_of_the_whole_table_is_named_table_and_has_no_rows():
    cases = failure_cases((None, "dataframe_check", False, None))
    assert describe_failures(cases) == (
        "  - column '<table>': dataframe_check: 1 failure(s), e.g. False")


def test_a_missing_column_is_named_with_the_closest_of_the_tables():
    cases = failure_cases((None, "column_in_dataframe", "visits", None),
                          (None, "column_in_dataframe", "spend", None))
    assert describe_failures(cases, columns=["Visits", "spent", "city"]) == (
        "  - no column 'visits' (did you mean 'Visits'?)\n"
        "  - no column 'spend' (did you mean 'spent'?)")
    assert describe_failures(cases, columns=["city"]) == (
        "  - no column 'visits'\n  - no column 'spend'")
    later = pd.concat([cases, failure_cases(("price", "ge(0)", -1.0, 3.0))], ignore_index=True)
    assert describe_failures(later).splitlines()[-1] == (
        "  - column 'price': ge(0): 1 failure(s), e.g. -1.0 (rows 3)")


def test_failures_keep_pandera_order_and_show_the_first_five_values_and_rows():
    cases = failure_cases(*[("price", "ge(0)", -float(i), float(i)) for i in range(1, 8)],
                          ("city", "isin", "z", "order-17"))
    assert describe_failures(cases) == (
        "  - column 'price': ge(0): 7 failure(s), e.g. -1.0, -2.0, -3.0, -4.0, -5.0 "
        "(rows 1, 2, 3, 4, 5)\n"
        "  - column 'city': isin: 1 failure(s), e.g. 'z' (rows 'order-17')")


def test_twenty_failure_lines_are_shown_and_the_rest_counted():
    cases = failure_cases(*[(f"c{i:02d}", "isin", "z", 0) for i in range(21)])
    lines = [f"  - column 'c{i:02d}': isin: 1 failure(s), e.g. 'z' (rows 0)" for i in range(21)]
    assert describe_failures(cases.iloc[:20]) == "\n".join(lines[:20])
    assert describe_failures(cases) == "\n".join(lines[:20]) + "\n  ... and 1 more"
    assert describe_failures(cases.iloc[:3], limit=2) == (
        "\n".join(lines[:2]) + "\n  ... and 1 more")


# --- the check at predict time ----------------------------------------------------------------

def test_input_that_fits_the_training_data_has_no_notes_and_a_missing_date_is_no_drift():
    assert InputCheck(run_schema())(scoring_frame()) == {}


def test_drift_names_the_column_the_count_the_first_five_values_and_rows():
    typed = pd.DataFrame({
        "city": np.array(["z", "a", "y", "z", "q", "w", "v"], dtype=object),
        "visits": np.array([0, 1, 2, 9, 9, 9, 9], dtype=np.int64),
        "price": np.float32([0.1, 3, np.nan, 1, 1, 1, 1]),
        "seen": np.array([MISSING_DATETIME, JAN_1, 1, JAN_1, JAN_1, JAN_1, 2_000_000_000])})
    notes = InputCheck(run_schema())(typed)
    assert notes == {
        "city": "'city': 6 row(s) with categories unseen in training ('z', 'y', 'q', 'w', 'v'): "
                "rows 0, 2, 3, 4, 5 and 1 more",
        "visits": "'visits': 5 row(s) outside the training range [1, 6] (e.g. 0): "
                  "rows 0, 3, 4, 5, 6",
        "price": "'price': 2 row(s) outside the training range [0.5, 2] (e.g. 0.1): rows 0, 1",
        "seen": f"'seen': 2 row(s) outside the training range [{JAN_1}, {JAN_3}] (e.g. 1): "
                "rows 2, 6"}


def test_one_row_outside_the_range_is_named_row_not_rows():
    notes = InputCheck(run_schema())(scoring_frame(visits=np.array([1, 2, 3, 60])))
    assert notes == {"visits": "'visits': 1 row(s) outside the training range [1, 6] (e.g. 60): "
                               "row 3"}


def test_a_huge_negative_price_is_drift_not_a_missing_date():
    huge = np.float32(-(2.0 ** 63))
    notes = InputCheck(run_schema())(scoring_frame(price=np.float32([0.5, huge, 1, 1])))
    assert notes == {"price": "'price': 1 row(s) outside the training range [0.5, 2] "
                              "(e.g. -9.22337e+18): row 1"}


def test_drift_checks_the_columns_that_are_there_when_one_is_missing():
    typed = scoring_frame(visits=np.array([1, 2, 3, 60])).drop(columns=["city"])
    expected = ["'visits': 1 row(s) outside the training range [1, 6] (e.g. 60): row 3"]
    assert drift(typed, run_schema()) == expected
    assert InputCheck(run_schema()).drift(typed) == expected


def test_strict_mode_raises_every_drift_note_in_one_error():
    drifted = scoring_frame(city=np.array(["z", "a", "a", "a"], dtype=object),
                            visits=np.array([1, 2, 3, 60]))
    with pytest.raises(DataError) as caught:
        InputCheck(run_schema())(drifted, strict=True)
    assert str(caught.value) == (
        "The input differs from the training data (strict mode):\n"
        "  - 'city': 1 row(s) with categories unseen in training ('z'): row 0\n"
        "  - 'visits': 1 row(s) outside the training range [1, 6] (e.g. 60): row 3")
    assert str(strict_error({"a": "note a", "b": "note b"})) == (
        "The input differs from the training data (strict mode):\n  - note a\n  - note b")


def test_check_input_returns_the_notes_and_raises_them_only_when_strict():
    drifted = scoring_frame(visits=np.array([1, 2, 3, 60]))
    note = "'visits': 1 row(s) outside the training range [1, 6] (e.g. 60): row 3"
    assert check_input(drifted, run_schema()) == [note]
    with pytest.raises(DataError, match=r"^The input differs from the training data \(strict"):
        check_input(drifted, run_schema(), strict=True)


def test_a_dtype_that_differs_from_an_earlier_request_goes_back_to_pandera():
    check = InputCheck(run_schema())
    assert check(scoring_frame()) == {}
    with pytest.raises(DataError) as caught:
        check(scoring_frame(visits=np.array([1.0, 2.0, 3.0, 6.0])))
    assert str(caught.value) == ("The input does not match the model's schema:\n"
                                 "  - column 'visits': dtype('int64'): 1 failure(s), "
                                 "e.g. 'float64'")


def test_the_run_schema_goes_through_pandera_once_per_dtype_signature():
    schema = run_schema()
    calls = pandera_calls(schema)
    check = InputCheck(schema)
    check(scoring_frame())
    check(scoring_frame())
    assert len(calls) == 1


def test_a_strict_user_schema_goes_through_pandera_every_time():
    schema = pa.DataFrameSchema({"a": pa.Column(int)}, strict=True)
    calls = pandera_calls(schema)
    check = InputCheck(schema)
    check(pd.DataFrame({"a": [1, 2]}))
    check(pd.DataFrame({"a": [1, 2]}))
    assert len(calls) == 2


@pytest.mark.parametrize("schema", [
    pa.DataFrameSchema({"a": pa.Column(int)}, unique=["a"]),
    pa.DataFrameSchema({"a": pa.Column(int, unique=True)}),
    pa.DataFrameSchema({"a": pa.Column(int)}, checks=pa.Check(lambda df: df["a"] > 0)),
    pa.DataFrameSchema({"a": pa.Column(int, pa.Check.ge(1))}),
    pa.DataFrameSchema({"a": pa.Column(int, pa.Check.isin([1, 2]))}),
    pa.DataFrameSchema({"a": pa.Column(int, pa.Check.in_range(1, 2))}),
    pa.DataFrameSchema({"a": pa.Column("float64", nullable=False)}),
], ids=["table-unique", "column-unique", "table-check", "ge", "isin", "in-range", "not-null"])
def test_a_user_schema_catches_a_bad_request_after_a_good_one_of_the_same_dtypes(schema):
    """The fast path for repeated requests must not skip what a user's schema adds."""
    dtype = "float64" if str(schema.columns["a"].dtype) == "float64" else "int64"
    check = InputCheck(schema)
    assert check(pd.DataFrame({"a": np.array([1, 2], dtype=dtype)})) == {}
    bad = [np.nan, 1.0] if dtype == "float64" else [0, 0]
    with pytest.raises(DataError, match=r"^The input does not match the model's schema:\n  - "):
        check(pd.DataFrame({"a": np.array(bad, dtype=dtype)}))


def test_a_regex_column_of_a_user_schema_is_checked_on_every_request():
    schema = pa.DataFrameSchema({"tag_.*": pa.Column(str, regex=True, nullable=True)})
    check = InputCheck(schema)
    assert check({"tag_a": np.array(["x", "y"], dtype=object)}) == {}
    with pytest.raises(DataError, match=r"^The input does not match the model's schema:\n"):
        check({"tag_a": np.array(["x", 5], dtype=object)})


def test_values_at_the_training_bounds_are_no_drift():
    """A request's few rows are checked against the ranges in Python: the bounds are in."""
    check = InputCheck(run_schema())
    assert check(scoring_frame(visits=np.array([1, 6, 1, 6], dtype=np.int64),
                               price=np.float32([0.5, 2.0, 0.5, 2.0]))) == {}
    notes = check(scoring_frame(visits=np.array([0, 6, 1, 7], dtype=np.int64)))
    assert list(notes) == ["visits"]
