"""Unit tests of automl_guide.columns: column kinds, ONNX input names, the model card's column
entries and the coercion of raw values (exact values, dtypes and error messages)."""
from __future__ import annotations

import datetime
import decimal
import warnings

import numpy as np
import pandas as pd
import pytest

from automl_guide.columns import (
    MISSING_DATETIME, ColumnInfo, check_columns_present, coerce_arrays, coerce_column,
    coerce_frame, count_missing, holds_decimals, infer_kind, missing_mask, onnx_feeds, onnx_names,
    profile_columns, string_names,
)
from automl_guide.errors import DataError

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)
JAN_1_2024 = 1704067200  # seconds since the epoch
DAY = 86400


def _info(kind: str, name: str = "col") -> ColumnInfo:
    return ColumnInfo(name, name, kind)


def _error(call) -> str:
    with pytest.raises(DataError) as caught:
        call()
    return str(caught.value)


def _reviews(rows: int, distinct: int | None = None) -> pd.Series:
    """Several words per value, 24-26 characters wide: free text once enough are distinct."""
    distinct = distinct or rows
    return pd.Series([f"review number {i % distinct} was fine" for i in range(rows)])


# --- the model card's column entries -----------------------------------------------------------

def test_a_categorical_column_card_lists_every_field_and_its_categories():
    info = ColumnInfo("colour", "colour_2", "categorical", 3, ("red", "blue"))
    assert info.to_card() == {"name": "colour", "onnx_name": "colour_2", "kind": "categorical",
                              "dtype": "string", "missing_in_training": 3,
                              "categories": ["red", "blue"]}


def test_a_numeric_column_card_has_its_range_and_no_categories():
    info = ColumnInfo("price ($)", "price____", "numeric", 2, minimum=0.0, maximum=9.5)
    assert info.to_card() == {"name": "price ($)", "onnx_name": "price____", "kind": "numeric",
                              "dtype": "float", "missing_in_training": 2, "range": [0.0, 9.5]}


def test_a_column_without_statistics_has_neither_range_nor_categories_on_its_card():
    assert ColumnInfo("when", "when", "datetime").to_card() == {
        "name": "when", "onnx_name": "when", "kind": "datetime", "dtype": "int64",
        "missing_in_training": 0}


@pytest.mark.parametrize("info", [
    ColumnInfo("colour", "colour_2", "categorical", 3, ("red", "blue")),
    ColumnInfo("price ($)", "price____", "numeric", 2, minimum=-1.5, maximum=9.5),
    ColumnInfo("review", "review", "text", 4),
    ColumnInfo("n", "n", "integer"),
])
def test_a_column_read_back_from_its_card_is_the_same_column(info):
    assert ColumnInfo.from_card(info.to_card()) == info


def test_a_card_entry_with_only_name_onnx_name_and_kind_reads_with_defaults():
    entry = {"name": "colour", "onnx_name": "colour_2", "kind": "categorical"}
    info = ColumnInfo.from_card(entry)
    assert info == ColumnInfo("colour", "colour_2", "categorical", 0, (), None, None)
    assert info.n_missing == 0 and info.categories == ()
    assert info.minimum is None and info.maximum is None


# --- column names ------------------------------------------------------------------------------

def test_a_frame_made_from_an_array_gets_string_column_names():
    frame = pd.DataFrame([[1, 2, 3]], index=[7])
    named = string_names(frame)
    assert list(named.columns) == ["0", "1", "2"]
    assert list(named.index) == [7]
    assert named.values.tolist() == [[1, 2, 3]]


def test_a_frame_with_string_names_is_returned_as_it_is():
    frame = pd.DataFrame({"a": [1]})
    assert string_names(frame) is frame


def test_names_that_become_equal_as_strings_are_refused_by_name():
    frame = pd.DataFrame([[1, 2, 3]], columns=["x", 1, "1"])
    assert _error(lambda: string_names(frame)) == (
        "Column names '1' are the same once made strings (1 and '1', say); rename the columns.")


def test_every_clash_of_names_made_strings_is_named_in_order():
    frame = pd.DataFrame([[1, 2, 3, 4, 5, 6]], columns=["2", 2, 1, "1", "1", "z"])
    assert _error(lambda: string_names(frame)) == (
        "Column names '1', '2' are the same once made strings (1 and '1', say); rename the "
        "columns.")


def test_onnx_names_replace_characters_outside_word_characters_with_underscores():
    assert onnx_names(["price ($)", "a-b", "plain_name", "größe"]) == [
        "price____", "a_b", "plain_name", "größe"]


def test_an_empty_name_becomes_column_and_a_leading_digit_gets_a_prefix():
    assert onnx_names(["", "1st", "2"]) == ["column", "c_1st", "c_2"]


def test_names_that_collide_get_numbered_suffixes_from_two():
    assert onnx_names(["a b", "a-b", "a_b", "a"]) == ["a_b", "a_b_2", "a_b_3", "a"]


def test_names_of_graph_outputs_are_not_used_for_inputs():
    assert onnx_names(["label", "probabilities", "value", "label_2"]) == [
        "label_2", "probabilities_2", "value_2", "label_2_2"]


# --- column kinds ------------------------------------------------------------------------------

def test_a_boolean_column_is_boolean_unless_it_has_gaps():
    assert infer_kind(pd.Series([True, False, True])) == "boolean"
    assert infer_kind(pd.Series([True, False], dtype="boolean")) == "boolean"
    assert infer_kind(pd.Series([True, None, False], dtype="boolean")) == "categorical"


def test_an_unsigned_column_is_integer_while_it_fits_in_int64():
    assert infer_kind(pd.Series(np.array([INT64_MAX, 1], dtype=np.uint64))) == "integer"
    assert infer_kind(pd.Series(np.array([INT64_MAX + 1, 1], dtype=np.uint64))) == "numeric"
    assert infer_kind(pd.Series([1, None], dtype="Int64")) == "numeric"


def test_a_datetime_column_is_datetime_even_with_no_dates_yet():
    assert infer_kind(pd.Series(pd.to_datetime([None, None]))) == "datetime"
    assert infer_kind(pd.Series(pd.to_datetime(["2024-01-01", None]))) == "datetime"


def test_text_dates_in_mixed_formats_are_datetime():
    assert infer_kind(pd.Series(["2024-01-05", "06/01/2024", "2024-1-7 10:30"])) == "datetime"


def test_text_that_only_starts_like_a_date_is_categorical():
    assert infer_kind(pd.Series(["2024-01-05", "2024-13-45"])) == "categorical"


def test_duration_text_is_numeric():
    assert infer_kind(pd.Series(["1 days", "3 days 04:05:06.5", None])) == "numeric"


def test_plain_numbers_held_as_objects_are_not_decimals():
    assert holds_decimals(pd.Series([1, 2.5], dtype=object)) is False
    assert holds_decimals(pd.Series([decimal.Decimal("1.5"), 2, 0.0])) is True
    assert holds_decimals(pd.Series([decimal.Decimal("1.5"), True])) is False
    assert holds_decimals(pd.Series([decimal.Decimal("1.5"), "x"])) is False


LATER_STRAY = {  # a column's first 200 values, then a value of another sort
    "decimals": ([decimal.Decimal("1.25")] * 200, "numeric",
                 "needs numbers (numeric in training)"),
    "dates": ([datetime.date(2024, 1, 1)] * 200, "datetime",
              "needs dates or datetimes (or seconds since the epoch)"),
    "durations": (["1 days"] * 200, "numeric", "needs numbers (numeric in training)"),
    "date_text": (["2024-01-01"] * 200, "datetime",
                  "needs dates or datetimes (or seconds since the epoch)"),
}


@pytest.mark.parametrize("case", sorted(LATER_STRAY))
def test_the_kind_is_judged_from_the_first_200_values(case):
    """A stray value after row 200 does not change the kind; profiling then refuses it by name."""
    values, kind, need = LATER_STRAY[case]
    column = pd.Series(values + ["oops"], dtype=object)
    assert infer_kind(column) == kind
    assert _error(lambda: profile_columns(pd.DataFrame({"amount": column}))) == (
        f"Column 'amount' {need}, but 1 value(s) do not fit: row 200: 'oops'.")


def test_reviews_are_text_judged_from_the_first_2000_values():
    column = pd.Series(list(_reviews(2000)) + [5], dtype=object)
    assert infer_kind(column) == "text"
    assert infer_kind(pd.Series([5] + list(_reviews(30)), dtype=object)) == "categorical"


def test_text_needs_at_least_20_distinct_values():
    assert infer_kind(_reviews(19)) == "categorical"
    assert infer_kind(_reviews(20)) == "text"
    assert infer_kind(_reviews(21)) == "text"


def test_text_needs_a_fifth_of_its_values_distinct():
    assert infer_kind(_reviews(100, 20)) == "text"  # exactly a fifth
    assert infer_kind(_reviews(110, 21)) == "categorical"  # 21 < 22
    assert infer_kind(_reviews(110, 22)) == "text"


def test_text_needs_several_words_in_at_least_half_its_values():
    words = [f"word {i:02d} and some more" for i in range(10)]
    codes = [f"identifier-code-{i:05d}" for i in range(10)]
    assert infer_kind(pd.Series(words + codes)) == "text"  # exactly half
    assert infer_kind(pd.Series(words[:9] + codes + ["identifier-code-99999"])) == "categorical"
    assert infer_kind(pd.Series([f"customer-id-{i:010d}" for i in range(20)])) == "categorical"


def test_text_needs_an_average_width_of_15():
    assert infer_kind(pd.Series([f"ab cd efg {i:05d}" for i in range(20)])) == "text"  # 15
    assert infer_kind(pd.Series([f"ab cd efg {i:04d}" for i in range(20)])) == "categorical"
    assert infer_kind(pd.Series([f"a b{i}" for i in range(20)])) == "categorical"


CJK = "的一是不了人我在有他这为之大来以个中上们到说时地也子就出要会可"


def test_four_cjk_characters_make_a_value_wordy_without_spaces():
    four = [f"{i:03d}{CJK[i:i + 4]}abcdefg" for i in range(25)]  # 14 long, 18 wide
    assert infer_kind(pd.Series(four)) == "text"
    three = [f"{i:03d}{CJK[i:i + 3]}abcdefgh" for i in range(25)]
    assert infer_kind(pd.Series(three)) == "categorical"


def test_a_cjk_character_counts_twice_towards_the_width():
    assert infer_kind(pd.Series([CJK[i:i + 8] for i in range(22)])) == "text"  # 8 long, 16 wide


# --- profiling: kinds and training statistics --------------------------------------------------

def test_profiling_records_kinds_missing_counts_and_ranges():
    frame = pd.DataFrame({
        "price": [1.5, np.nan, 3.0, np.inf],
        "colour": ["red", None, "red", "red"],
        "when": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2023-12-31"]),
        "n": [3, 1, 2, 5],
        "flag": [True, False, True, True],
        "empty": [np.nan] * 4,
        "gone": pd.to_datetime([None] * 4),
    })
    assert profile_columns(frame) == (
        ColumnInfo("price", "price", "numeric", 2, minimum=1.5, maximum=3.0),
        ColumnInfo("colour", "colour", "categorical", 1, ("red", "")),
        ColumnInfo("when", "when", "datetime", 1, minimum=1703980800.0, maximum=1704240000.0),
        ColumnInfo("n", "n", "integer", 0, minimum=1.0, maximum=5.0),
        ColumnInfo("flag", "flag", "boolean", 0, minimum=0.0, maximum=1.0),
        ColumnInfo("empty", "empty", "numeric", 4),
        ColumnInfo("gone", "gone", "datetime", 4),
    )


def test_profiling_uses_onnx_names():
    frame = pd.DataFrame({"unit price": [1.0, 2.0], "unit-price": ["a", "b"]})
    assert [(c.name, c.onnx_name) for c in profile_columns(frame)] == [
        ("unit price", "unit_price"), ("unit-price", "unit_price_2")]


def test_a_text_column_has_no_categories_on_its_profile():
    review = pd.Series(list(_reviews(25)) + [None, None])
    assert profile_columns(pd.DataFrame({"my review": review})) == (
        ColumnInfo("my review", "my_review", "text", 2),)


def test_the_smallest_int64_is_missing_only_in_a_datetime_column():
    """It stands for a missing date; in an integer column it is just a number."""
    assert profile_columns(pd.DataFrame({"k": [INT64_MIN, 5]})) == (
        ColumnInfo("k", "k", "integer", 0, minimum=float(INT64_MIN), maximum=5.0),)
    typed = np.array([INT64_MIN, 5], dtype=np.int64)
    assert missing_mask(typed, "integer").tolist() == [False, False]
    assert missing_mask(typed, "datetime").tolist() == [True, False]
    assert count_missing(typed, "integer") == 0
    assert count_missing(typed, "datetime") == 1


def test_missing_masks_select_the_present_values():
    for typed, kind, present in [
        (np.array([3, 4], dtype=np.int64), "integer", [3, 4]),
        (np.array([INT64_MIN, 4], dtype=np.int64), "datetime", [4]),
        (np.array([np.nan, 1.5]), "numeric", [1.5]),
        (np.array(["", "red"], dtype=object), "categorical", ["red"]),
    ]:
        mask = missing_mask(typed, kind)
        assert mask.dtype == bool
        assert typed[~mask].tolist() == present


@pytest.mark.parametrize("rows", [31, 32, 33])
def test_missing_values_are_counted_alike_for_few_and_many_rows(rows):
    floats = np.array([np.nan] + [1.0] * (rows - 1))
    dates = np.array([INT64_MIN, INT64_MIN] + [0] * (rows - 2), dtype=np.int64)
    strings = np.array(["", "", ""] + ["a"] * (rows - 3), dtype=object)
    assert count_missing(floats, "numeric") == 1
    assert count_missing(dates, "datetime") == 2
    assert count_missing(dates, "integer") == 0
    assert count_missing(strings, "categorical") == 3


# --- coercion: booleans ------------------------------------------------------------------------

def test_boolean_values_become_ones_and_zeros():
    for column in [pd.Series([True, False]), pd.Series([True, False], dtype="boolean"),
                   pd.Series([" Yes", "no", "TRUE", "false", "1", "0", 1, 0.0], dtype=object)]:
        typed = coerce_column(column, _info("boolean"))
        assert typed.dtype == np.int64
        assert typed.tolist() == [1, 0, 1, 0, 1, 0, 1, 0][:len(column)]


def test_a_missing_or_unknown_boolean_is_refused():
    assert _error(lambda: coerce_column(pd.Series([True, None], dtype="boolean"),
                                        _info("boolean", "flag"))) == (
        "Column 'flag' needs true or false (or 1/0, yes/no) without missing values, as in "
        "training, but 1 value(s) do not fit: row 1: <NA>.")
    assert _error(lambda: coerce_column(pd.Series(["yes", "maybe", "2"]),
                                        _info("boolean", "flag"))) == (
        "Column 'flag' needs true or false (or 1/0, yes/no) without missing values, as in "
        "training, but 2 value(s) do not fit: row 1: 'maybe', row 2: '2'.")


# --- coercion: integers ------------------------------------------------------------------------

def test_whole_numbers_are_read_exactly_as_int64():
    big = 2**53 + 1  # a float64 would round it
    typed = coerce_column(pd.Series([big, -3]), _info("integer"))
    assert typed.dtype == np.int64 and typed.tolist() == [big, -3]
    assert coerce_column(pd.Series([5, 7], dtype=np.uint32), _info("integer")).tolist() == [5, 7]


def test_whole_floats_and_number_text_are_integers():
    typed = coerce_column(pd.Series([200.0, 3.0, -1e6]), _info("integer"))
    assert typed.dtype == np.int64 and typed.tolist() == [200, 3, -1000000]
    typed = coerce_column(pd.Series(["3", "4"]), _info("integer"))
    assert typed.dtype == np.int64 and typed.tolist() == [3, 4]
    typed = coerce_column(pd.Series([True, False]), _info("integer"))
    assert typed.dtype == np.int64 and typed.tolist() == [1, 0]


def test_fractions_and_gaps_are_refused_in_an_integer_column():
    message = _error(lambda: coerce_column(pd.Series([1.5, np.nan, 2.0]), _info("integer", "k")))
    assert message == ("Column 'k' needs whole numbers without missing values (it had none in "
                       "training), but 2 value(s) do not fit: row 0: 1.5, row 1: nan.")
    message = _error(lambda: coerce_column(pd.Series([1.5], dtype=np.float32),
                                           _info("integer", "k")))
    assert message == ("Column 'k' needs whole numbers without missing values (it had none in "
                       "training), but 1 value(s) do not fit: row 0: 1.5.")


def test_words_are_refused_in_an_integer_column():
    assert _error(lambda: coerce_column(pd.Series(["1", "abc", None]), _info("integer", "k"))) == (
        "Column 'k' needs numbers (integer in training), but 1 value(s) do not fit: row 1: 'abc'.")


def test_integers_must_fit_in_64_bits():
    below = float(np.nextafter(2.0**63, 0))
    assert coerce_column(pd.Series([below, -2.0**62]), _info("integer")).tolist() == [
        int(below), -(2**62)]
    for column, shown in [(pd.Series([2.0**63]), "9.223372036854776e+18"),
                          (pd.Series([-(2.0**63)]), "-9.223372036854776e+18"),
                          (pd.Series([2**63], dtype=np.uint64), "9223372036854775808")]:
        assert _error(lambda: coerce_column(column, _info("integer", "k"))) == (
            "Column 'k' needs whole numbers that fit in 64 bits (below 9.2e18), but 1 value(s) "
            f"do not fit: row 0: {shown}.")


# --- coercion: numbers -------------------------------------------------------------------------

def test_numbers_become_float32_with_infinities_missing():
    typed = coerce_column(pd.Series([1e300, np.inf, -np.inf, 1.5, np.nan]), _info("numeric"))
    assert typed.dtype == np.float32
    assert np.isnan(typed[[0, 1, 2, 4]]).all() and typed[3] == 1.5


def test_booleans_and_nullable_numbers_are_numbers():
    typed = coerce_column(pd.Series([True, False]), _info("numeric"))
    assert typed.dtype == np.float32 and typed.tolist() == [1.0, 0.0]
    typed = coerce_column(pd.Series([True, None], dtype="boolean"), _info("numeric"))
    assert typed[0] == 1.0 and np.isnan(typed[1])
    typed = coerce_column(pd.Series([1, None], dtype="Int64"), _info("numeric"))
    assert typed.dtype == np.float32 and typed[0] == 1.0 and np.isnan(typed[1])
    typed = coerce_column(pd.Series([1, 2], dtype="category"), _info("numeric"))
    assert typed.dtype == np.float32 and typed.tolist() == [1.0, 2.0]


def test_durations_are_seconds():
    typed = coerce_column(pd.Series([pd.Timedelta("1D"), pd.NaT]), _info("numeric"))
    assert typed.dtype == np.float32 and typed[0] == DAY and np.isnan(typed[1])
    typed = coerce_column(pd.Series(["1.5", "2 days", "1 day 01:00:00", None]), _info("numeric"))
    assert typed[:3].tolist() == [1.5, 2 * DAY, DAY + 3600] and np.isnan(typed[3])


def test_decimals_are_numbers():
    typed = coerce_column(pd.Series([decimal.Decimal("1.25"), 2]), _info("numeric"))
    assert typed.dtype == np.float32 and typed.tolist() == [1.25, 2.0]


def test_words_and_durations_beyond_pandas_range_are_refused_as_numbers():
    assert _error(lambda: coerce_column(pd.Series(["1.5", None, "x"]),
                                        _info("numeric", "n"))) == (
        "Column 'n' needs numbers (numeric in training), but 1 value(s) do not fit: row 2: 'x'.")
    assert _error(lambda: coerce_column(pd.Series(["1 days", "200000 days"]),
                                        _info("numeric", "n"))) == (
        "Column 'n' needs numbers (numeric in training), but 1 value(s) do not fit: "
        "row 1: '200000 days'.")


# --- coercion: datetimes -----------------------------------------------------------------------

def test_dates_become_seconds_since_the_epoch_and_gaps_the_smallest_int64():
    typed = coerce_column(pd.Series(pd.to_datetime(["2024-01-01", None])), _info("datetime"))
    assert typed.dtype == np.int64 and typed.tolist() == [JAN_1_2024, MISSING_DATETIME]


def test_date_text_in_mixed_formats_and_time_zones_is_read_in_utc():
    column = pd.Series(["2024-01-05", "01/06/2024", "2024-01-01T00:00:00+02:00", None])
    typed = coerce_column(column, _info("datetime"))
    assert typed.tolist() == [JAN_1_2024 + 4 * DAY, JAN_1_2024 + 5 * DAY, JAN_1_2024 - 7200,
                              MISSING_DATETIME]


def test_numbers_in_a_datetime_column_are_seconds_since_the_epoch():
    typed = coerce_column(pd.Series([DAY, 0, -5]), _info("datetime"))
    assert typed.dtype == np.int64 and typed.tolist() == [DAY, 0, -5]
    typed = coerce_column(pd.Series([1.5, -1.5, np.nan]), _info("datetime"))
    assert typed.tolist() == [1, -2, MISSING_DATETIME]  # rounded down; NaN missing


def test_seconds_with_gaps_are_read_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        typed = coerce_column(pd.Series([np.nan, 60.0]), _info("datetime"))
    assert typed.tolist() == [MISSING_DATETIME, 60]


def test_dates_and_seconds_may_be_mixed_in_one_column():
    column = pd.Series(["2024-01-01", DAY, 2.5, None, datetime.datetime(2024, 1, 2)],
                       dtype=object)
    typed = coerce_column(column, _info("datetime"))
    assert typed.dtype == np.int64
    assert typed.tolist() == [JAN_1_2024, DAY, 2, MISSING_DATETIME, JAN_1_2024 + DAY]


def test_nullable_seconds_in_a_datetime_column_keep_their_gaps():
    for column in [pd.Series([0, None], dtype="Int64"), pd.Series([0.5, None], dtype="Float64")]:
        assert coerce_column(column, _info("datetime")).tolist() == [0, MISSING_DATETIME]


def test_text_that_is_no_date_is_refused():
    assert _error(lambda: coerce_column(pd.Series(["2024-01-05", "not a date"]),
                                        _info("datetime", "when"))) == (
        "Column 'when' needs dates or datetimes (or seconds since the epoch), but 1 value(s) do "
        "not fit: row 1: 'not a date'.")
    assert _error(lambda: coerce_column(pd.Series(["2024-01-01", True], dtype=object),
                                        _info("datetime", "when"))) == (
        "Column 'when' needs dates or datetimes (or seconds since the epoch), but 1 value(s) do "
        "not fit: row 1: True.")


def test_seconds_more_than_about_3000_years_from_1970_are_refused():
    limit = 95_000_000_000
    assert coerce_column(pd.Series([limit, -limit]), _info("datetime")).tolist() == [
        limit, -limit]
    for column, shown in [(pd.Series([limit + 1.0]), "95000000001.0"),
                          (pd.Series([0, INT64_MIN]), str(INT64_MIN)),
                          (pd.Series(["2024-01-01", -np.inf], dtype=object), "-inf")]:
        row = len(column) - 1
        assert _error(lambda: coerce_column(column, _info("datetime", "when"))) == (
            "Column 'when' needs dates or datetimes (or seconds since the epoch, within about "
            f"3,000 years of 1970), but 1 value(s) do not fit: row {row}: {shown}.")


# --- coercion: strings -------------------------------------------------------------------------

def test_categories_and_text_are_strings_with_gaps_empty():
    for kind in ("categorical", "text"):
        typed = coerce_column(pd.Series(["red", None, 3, 1.5], dtype=object), _info(kind))
        assert typed.dtype == object and typed.tolist() == ["red", "", "3", "1.5"]
        typed = coerce_column(pd.Series(["red", "blue"]), _info(kind))
        assert typed.dtype == object and typed.tolist() == ["red", "blue"]
        typed = coerce_column(pd.Series([1, 2]), _info(kind))
        assert typed.tolist() == ["1", "2"]


# --- error messages ----------------------------------------------------------------------------

def _bad_rows(count: int) -> str:
    column = pd.Series([0.5 + i for i in range(count)] + [1.0])
    return _error(lambda: coerce_column(column, _info("integer", "k")))


def test_an_error_shows_up_to_five_bad_rows_and_counts_the_rest():
    need = "Column 'k' needs whole numbers without missing values (it had none in training)"
    five = "row 0: 0.5, row 1: 1.5, row 2: 2.5, row 3: 3.5, row 4: 4.5"
    assert _bad_rows(5) == f"{need}, but 5 value(s) do not fit: {five}."
    assert _bad_rows(6) == f"{need}, but 6 value(s) do not fit: {five} and 1 more."
    assert _bad_rows(8) == f"{need}, but 8 value(s) do not fit: {five} and 3 more."


# --- columns present ---------------------------------------------------------------------------

COLUMNS = [ColumnInfo("a", "a", "numeric"), ColumnInfo("b", "b", "numeric")]


def test_columns_the_model_needs_twice_over_are_refused():
    frame = pd.DataFrame([[1, 2, 3, 4, 5]], columns=["a", "a", "b", "b", "z"])
    assert _error(lambda: check_columns_present(frame, COLUMNS)) == (
        "Column(s) 'a', 'b' appear more than once; the model takes each once.")
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"])
    assert _error(lambda: check_columns_present(frame, COLUMNS)) == (
        "Column(s) 'a' appear more than once; the model takes each once.")


def test_a_repeated_column_the_model_does_not_need_is_allowed():
    check_columns_present(pd.DataFrame([[1, 2, 3, 4]], columns=["a", "b", "z", "z"]), COLUMNS)
    typed = coerce_arrays(pd.DataFrame([[1.0, 2.0, 3, 4]], columns=["a", "b", "z", "z"]),
                          COLUMNS)
    assert {k: v.tolist() for k, v in typed.items()} == {"a": [1.0], "b": [2.0]}


def test_missing_columns_are_named_with_the_data_s_other_columns():
    frame = pd.DataFrame([[1, 2, 3]], columns=["z", "y", "b"])
    assert _error(lambda: check_columns_present(frame, COLUMNS)) == (
        "Missing column(s) 'a' that the model needs. The data has other columns: 'y', 'z'. "
        "Rename them back or refit the model.")
    assert _error(lambda: check_columns_present(pd.DataFrame(), COLUMNS)) == (
        "Missing column(s) 'a', 'b' that the model needs. Rename them back or refit the model.")
    renamed = pd.DataFrame([[1, 2]], columns=["A", "b"])  # as another tool wrote the header
    assert _error(lambda: check_columns_present(renamed, COLUMNS)) == (
        "Missing column(s) 'a' (did you mean 'A'?) that the model needs. The data has other "
        "columns: 'A'. Rename them back or refit the model.")


def test_at_most_ten_other_columns_are_suggested():
    others = [f"x{i:02d}" for i in range(11, -1, -1)]
    frame = pd.DataFrame([list(range(13))], columns=["a", *others])
    shown = ", ".join(repr(f"x{i:02d}") for i in range(10))
    assert _error(lambda: check_columns_present(frame, COLUMNS)) == (
        f"Missing column(s) 'b' that the model needs. The data has other columns: {shown}. "
        "Rename them back or refit the model.")


# --- typed frames, arrays and feeds ------------------------------------------------------------

FEATURES = [ColumnInfo("unit price", "unit_price", "numeric"),
            ColumnInfo("n", "n", "integer"),
            ColumnInfo("colour", "colour", "categorical")]


def _shop(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"n": [2**53 + 1 + i for i in range(rows)],
                         "unit price": [0.5 + i for i in range(rows)],
                         "colour": ["red" if i % 2 else "blue" for i in range(rows)],
                         "extra": ["x"] * rows}, index=[10 + i for i in range(rows)])


@pytest.mark.parametrize("rows", [2, 32, 33])
def test_typed_arrays_are_exact_for_few_and_many_rows(rows):
    typed = coerce_arrays(_shop(rows), FEATURES)
    assert list(typed) == ["unit_price", "n", "colour"]
    assert typed["n"].dtype == np.int64
    assert typed["n"].tolist() == [2**53 + 1 + i for i in range(rows)]
    assert typed["unit_price"].dtype == np.float32
    assert typed["unit_price"].tolist() == [0.5 + i for i in range(rows)]
    assert typed["colour"].tolist() == ["red" if i % 2 else "blue" for i in range(rows)]


def test_large_whole_numbers_stay_exact_in_a_request_of_only_numbers():
    """A frame of ints and floats read in one piece must not pass the ints through float64."""
    frame = pd.DataFrame({"n": [2**53 + 1, 2], "unit price": [0.5, 1.5]})
    typed = coerce_arrays(frame, FEATURES[:2])
    assert typed["n"].tolist() == [2**53 + 1, 2]
    assert typed["unit_price"].tolist() == [0.5, 1.5]


def test_a_typed_frame_is_named_by_onnx_or_raw_names_with_a_fresh_index():
    frame = coerce_frame(_shop(3), FEATURES)
    assert list(frame.columns) == ["unit_price", "n", "colour"]
    assert list(frame.index) == [0, 1, 2]
    frame = coerce_frame(_shop(3), FEATURES, by="name")
    assert list(frame.columns) == ["unit price", "n", "colour"]
    assert frame["unit price"].tolist() == [0.5, 1.5, 2.5]


def test_a_typed_frame_keeps_its_rows_when_the_model_takes_no_columns():
    assert len(coerce_frame(_shop(3), [])) == 3


def test_a_frame_made_from_an_array_is_coerced_by_string_names():
    typed = coerce_arrays(pd.DataFrame([[1.5, 2]]), [ColumnInfo("0", "c_0", "numeric"),
                                                     ColumnInfo("1", "c_1", "integer")])
    assert {k: v.tolist() for k, v in typed.items()} == {"c_0": [1.5], "c_1": [2]}


def test_every_column_with_bad_values_is_named_in_one_error():
    frame = pd.DataFrame({"n": [1.5, 2.0], "unit price": ["x", "1"], "colour": ["a", "b"]})
    assert _error(lambda: coerce_arrays(frame, FEATURES)) == (
        "2 columns have values the model cannot take:\n"
        "  - Column 'unit price' needs numbers (numeric in training), but 1 value(s) do not "
        "fit: row 0: 'x'.\n"
        "  - Column 'n' needs whole numbers without missing values (it had none in training), "
        "but 1 value(s) do not fit: row 0: 1.5.")
    assert _error(lambda: coerce_arrays(frame.assign(n=[1, 2]), FEATURES)) == (
        "Column 'unit price' needs numbers (numeric in training), but 1 value(s) do not fit: "
        "row 0: 'x'.")


def test_onnx_feeds_are_one_column_per_input():
    feeds = onnx_feeds(_shop(3), FEATURES)
    assert list(feeds) == ["unit_price", "n", "colour"]
    assert feeds["unit_price"].shape == (3, 1)
    assert feeds["n"].tolist() == [[2**53 + 1], [2**53 + 2], [2**53 + 3]]
    assert feeds["colour"].tolist() == [["blue"], ["red"], ["blue"]]


def test_whole_numbers_beyond_what_a_float_holds_exactly_keep_every_digit():
    """Through float64, 2**53 + 1 became 2**53, and a uint64 of 2**63 - 1 rounded to 2**63 and
    was refused as beyond 64 bits."""
    ids = ColumnInfo("id", "id", "integer")
    for given in (pd.Series([2**53 + 1, 5], dtype="Int64"),
                  pd.Series(np.array([2**53 + 1, 5], dtype=np.uint64)),
                  pd.Series(["9007199254740993", "5"], dtype=object),
                  pd.Series(["9007199254740993", "5"], dtype="str")):
        assert coerce_column(given, ids).tolist() == [2**53 + 1, 5]
        assert coerce_column(given, ids).dtype == np.int64
    [hashes] = profile_columns(pd.DataFrame({"h": np.array([2**63 - 1, 1], dtype=np.uint64)}))
    assert hashes.kind == "integer"
    assert coerce_column(pd.Series(np.array([2**63 - 1], dtype=np.uint64)), hashes).tolist() == [
        2**63 - 1]
    with pytest.raises(DataError) as caught:
        coerce_column(pd.Series(np.array([2**63, 1], dtype=np.uint64)), ids)
    assert str(caught.value) == ("Column 'id' needs whole numbers that fit in 64 bits (below "
                                 "9.2e18), but 1 value(s) do not fit: row 0: "
                                 "9223372036854775808.")
    with pytest.raises(DataError) as caught:
        coerce_column(pd.Series([1, None], dtype="Int64"), ids)
    assert str(caught.value) == ("Column 'id' needs whole numbers without missing values (it had "
                                 "none in training), but 1 value(s) do not fit: row 1: <NA>.")
    for text, said in ((["7", "x"], "needs numbers (integer in training), but 1 value(s) do "
                                    "not fit: row 1: 'x'."),
                       (["7", None], "needs whole numbers without missing values (it had none "
                                     "in training), but 1 value(s) do not fit: row 1: nan."),
                       (["7", "2.5"], "needs whole numbers without missing values (it had none "
                                      "in training), but 1 value(s) do not fit: row 1: '2.5'.")):
        with pytest.raises(DataError) as caught:  # text of other things: the float path's errors
            coerce_column(pd.Series(text, dtype="str"), ids)
        assert str(caught.value) == f"Column 'id' {said}"
    assert coerce_column(pd.Series([True, False]), ids).tolist() == [1, 0]  # booleans as 1/0


def test_durations_as_text_beside_a_word_are_seconds_and_only_the_word_is_named():
    """One word among durations made every duration count as bad in the error."""
    amounts = ColumnInfo("n", "n", "numeric")
    with pytest.raises(DataError) as caught:
        coerce_column(pd.Series(["1.5", "2 days", "x"]), amounts)
    assert str(caught.value) == ("Column 'n' needs numbers (numeric in training), but 1 value(s) "
                                 "do not fit: row 2: 'x'.")
    assert coerce_column(pd.Series(["1.5", "2 days", None]), amounts)[:2].tolist() == [
        1.5, 172800.0]
