"""The shop schemas column by column: what each table accepts, how it is read, what it refuses.

Fast unit tests of ``automl_guide_schemas.shop`` (through ``validate_table``, as a user meets it,
and its timestamp helpers): exact values, dtypes and error messages.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl_guide import DataError
from automl_guide.shop.tables import validate_table
from automl_guide_schemas import shop

T = pd.Timestamp


def _products(**columns) -> pd.DataFrame:
    return pd.DataFrame({"product_id": ["p1", "p2"], "category": ["tea", "coffee"],
                         "price": [3.5, 9.0]}).assign(**columns)


def _customers(**columns) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["c1", "c2"]}).assign(**columns)


def _events(**columns) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["c1", "c2"], "product_id": ["p1", "p2"],
                         "event_type": ["view", "cart"],
                         "timestamp": ["2024-03-01", "2024-03-02"]}).assign(**columns)


def _orders(**columns) -> pd.DataFrame:
    return pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c2"],
                         "product_id": ["p1", "p2"], "quantity": [1, 3], "price": [3.5, 3.5],
                         "timestamp": ["2024-01-01", "2024-01-02 08:00"]}).assign(**columns)


def _queries(**columns) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": ["c1", "c2"], "query": ["tea", "a"],
                         "timestamp": ["2024-01-01", "2024-01-02"]}).assign(**columns)


MINIMAL = {"products": _products, "customers": _customers, "events": _events,
           "orders": _orders, "queries": _queries}


def _error(table: str, frame: pd.DataFrame, **options) -> str:
    with pytest.raises(DataError) as caught:
        validate_table(table, frame, **options)
    return str(caught.value)


def _refused(table: str, *lines: str) -> str:
    """The whole message validate_table gives for ``table`` failing with ``lines`` (a line
    about a column, or one that starts with "no column")."""
    return f"The {table} table does not match its schema:\n" + "\n".join(
        f"  - {'' if line.startswith('no column') else 'column '}{line}" for line in lines)


def _strings(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.StringDtype)


# --- which columns a table needs, and which it may leave out or add ---

REQUIRED = [("products", "product_id"), ("products", "category"), ("products", "price"),
            ("customers", "customer_id"),
            ("events", "customer_id"), ("events", "product_id"), ("events", "event_type"),
            ("events", "timestamp"),
            ("orders", "order_id"), ("orders", "customer_id"), ("orders", "product_id"),
            ("orders", "quantity"), ("orders", "price"), ("orders", "timestamp"),
            ("queries", "customer_id"), ("queries", "query"), ("queries", "timestamp")]


@pytest.mark.parametrize("table, column", REQUIRED)
def test_a_missing_required_column_is_named_under_the_tables_name(table, column):
    frame = MINIMAL[table](notes=[1, 2]).drop(columns=column)
    assert _error(table, frame) == _refused(table, f"no column {column!r}")
    renamed = MINIMAL[table]().rename(columns={column: column.upper()})  # as a shop exports it
    assert _error(table, renamed) == _refused(
        table, f"no column {column!r} (did you mean {column.upper()!r}?)")


@pytest.mark.parametrize("table", sorted(MINIMAL))
def test_a_table_of_only_its_required_columns_passes(table):
    """Every optional column (brand, rating, session_id, quantity, clicked_product_id...)
    may be left out."""
    frame = MINIMAL[table]()
    assert validate_table(table, frame).columns.tolist() == frame.columns.tolist()


@pytest.mark.parametrize("table", sorted(MINIMAL))
@pytest.mark.parametrize("day_first", [True, False])
def test_a_shops_day_order_applies_to_every_table_with_or_without_timestamps(table, day_first):
    """The loader passes the shop's day order to every table; a table without a timestamp
    (products, customers) passes as it is."""
    frame = MINIMAL[table]()
    assert validate_table(table, frame, day_first).columns.tolist() == frame.columns.tolist()


@pytest.mark.parametrize("table", sorted(MINIMAL))
def test_a_column_the_schema_does_not_know_is_kept_as_given(table):
    validated = validate_table(table, MINIMAL[table](notes=[10, 20]))
    assert validated["notes"].tolist() == [10, 20]


# --- ids ---

def test_float_ids_are_read_as_the_integers_they_were():
    """A float id column (an int column with a missing value, or after a merge): 10.0 is "10";
    a fraction, or a number past what int64 holds, keeps its own text."""
    ids = pd.DataFrame({"customer_id": [1.5, 2.0, 200.0, 2.0**63, 1e19, -3.0]})
    assert validate_table("customers", ids)["customer_id"].tolist() == [
        "1.5", "2", "200", "9.223372036854776e+18", "1e+19", "-3"]


def test_ids_of_mixed_types_are_stripped_text():
    mixed = pd.Series([" P1 ", 10.0, 7, 1.5, np.float64(4.0)], dtype=object)
    validated = validate_table("customers", pd.DataFrame({"customer_id": mixed}))
    assert validated["customer_id"].tolist() == ["P1", "10", "7", "1.5", "4"]
    assert _strings(validated["customer_id"])


@pytest.mark.parametrize("missing", [None, np.nan], ids=["None", "nan"])
def test_a_missing_optional_id_stays_missing_rather_than_becoming_text(missing):
    events = pd.concat([_events(), _events().head(1)], ignore_index=True)
    sessions = pd.Series([" s1 ", missing, 3.0], dtype=object)
    validated = validate_table("events", events.assign(session_id=sessions))
    assert validated["session_id"].isna().tolist() == [False, True, False]
    assert validated["session_id"].dropna().tolist() == ["s1", "3"]


def test_nullable_integer_ids_are_text_with_their_missing_values_kept():
    validated = validate_table("events", _events(session_id=pd.array([5, None], dtype="Int64")))
    assert validated["session_id"].iloc[0] == "5" and pd.isna(validated["session_id"].iloc[1])


@pytest.mark.parametrize("table, column", [("customers", "customer_id"),
                                           ("products", "product_id"),
                                           ("events", "session_id"),
                                           ("queries", "clicked_product_id"),
                                           ("queries", "bought_product_id")])
def test_an_empty_id_is_refused_as_not_empty(table, column):
    frame = MINIMAL[table]().assign(**{column: ["x1", "  "]})
    assert _error(table, frame) == _refused(
        table, f"{column!r}: not_empty: 1 failure(s), e.g. '' (rows 1)")


def test_a_repeated_product_id_in_the_catalogue_is_refused():
    assert _error("products", _products(product_id=["p1", " p1"])) == _refused(
        "products", "'product_id': field_uniqueness: 2 failure(s), e.g. 'p1', 'p1' (rows 0, 1)")


def test_a_missing_required_id_is_refused():
    assert _error("customers", _customers(customer_id=["c1", None])) == _refused(
        "customers", "'customer_id': not_nullable: 1 failure(s), e.g. nan (rows 1)")


@pytest.mark.parametrize("column", ["clicked_product_id", "bought_product_id"])
def test_a_querys_product_ids_are_optional_stripped_and_may_be_missing(column):
    validated = validate_table("queries", _queries(**{column: [" p1 ", None]}))
    assert validated[column].iloc[0] == "p1" and pd.isna(validated[column].iloc[1])
    assert _strings(validated[column])


# --- products ---

def test_a_products_text_columns_are_read_as_text():
    validated = validate_table("products", _products(category=[1, 2], brand=[7, 8],
                                                     title=[10, 20]))
    for column, expected in (("category", ["1", "2"]), ("brand", ["7", "8"]),
                             ("title", ["10", "20"])):
        assert validated[column].tolist() == expected and _strings(validated[column])


def test_a_products_category_is_required_in_every_row():
    assert _error("products", _products(category=["tea", None])) == _refused(
        "products", "'category': not_nullable: 1 failure(s), e.g. nan (rows 1)")


@pytest.mark.parametrize("column, given", [("brand", "acme"), ("title", "green tea"),
                                           ("rating", 4.0), ("review_count", 4.0)])
def test_a_products_optional_columns_may_have_missing_values(column, given):
    validated = validate_table("products", _products(**{column: [None, given]}))
    assert pd.isna(validated[column].iloc[0]) and validated[column].iloc[1] == given


def test_numbers_written_as_text_are_read_as_numbers():
    validated = validate_table("products", _products(price=["19.9", "0"], rating=["4.5", "0"],
                                                     review_count=["3", "0"]))
    assert validated["price"].tolist() == [19.9, 0.0]
    assert validated["rating"].tolist() == [4.5, 0.0]
    assert validated["review_count"].tolist() == [3.0, 0.0]
    assert {str(validated[c].dtype) for c in ("price", "rating", "review_count")} == {"float64"}


def test_a_rating_is_between_0_and_5_inclusive():
    assert validate_table("products", _products(rating=[0, 5]))["rating"].tolist() == [0, 5]
    assert _error("products", _products(rating=[-0.1, 5.5])) == _refused(
        "products", "'rating': in_range(0, 5): 2 failure(s), e.g. -0.1, 5.5 (rows 0, 1)")


@pytest.mark.parametrize("table, column", [("products", "price"), ("products", "review_count"),
                                           ("orders", "price"), ("events", "price")])
def test_a_negative_price_or_count_is_refused_and_zero_is_not(table, column):
    frame = MINIMAL[table]().assign(**{column: [0, -1]})
    assert _error(table, frame) == _refused(
        table, f"{column!r}: greater_than_or_equal_to(0): 1 failure(s), e.g. -1.0 (rows 1)")


@pytest.mark.parametrize("table", ["products", "orders", "events"])
def test_a_missing_price_is_refused(table):
    assert _error(table, MINIMAL[table]().assign(price=[1.0, None])) == _refused(
        table, "'price': not_nullable: 1 failure(s), e.g. nan (rows 1)")


# --- events ---

def test_event_types_are_read_whatever_their_case_or_spaces():
    exported = pd.Series([" View", "CART "], dtype=object)  # a column of mixed objects
    validated = validate_table("events", _events(event_type=exported))
    assert validated["event_type"].tolist() == ["view", "cart"]
    assert _strings(validated["event_type"])


def test_a_categorical_event_type_comes_back_as_text():
    validated = validate_table("events", _events(event_type=pd.Categorical([" View", "cart"])))
    assert validated["event_type"].tolist() == ["view", "cart"]
    assert _strings(validated["event_type"])


def test_an_event_type_written_as_a_number_is_refused_as_the_text_read():
    assert _error("events", _events(event_type=[1, 2])) == _refused(
        "events", "'event_type': one of view, cart, purchase; map the shop's own names to these "
        "(such as addtocart to cart, transaction to purchase) and drop the rest: 2 failure(s), "
        "e.g. '1', '2' (rows 0, 1)")


@pytest.mark.parametrize("dtype", [object, None])
def test_a_missing_event_type_is_refused(dtype):
    types = pd.Series([" View", None], dtype=dtype)
    assert _error("events", _events(event_type=types)) == _refused(
        "events", "'event_type': not_nullable: 1 failure(s), e.g. nan (rows 1)")


def test_an_unknown_event_type_is_refused_with_the_names_to_use():
    assert _error("events", _events(event_type=["view", "click"])) == _refused(
        "events", "'event_type': one of view, cart, purchase; map the shop's own names to these "
        "(such as addtocart to cart, transaction to purchase) and drop the rest: 1 failure(s), "
        "e.g. 'click' (rows 1)")


@pytest.mark.parametrize("table", ["events", "orders"])
def test_a_quantity_is_a_whole_number_of_at_least_one(table):
    frame = MINIMAL[table]().assign(quantity=[0, 1.5])
    assert _error(table, frame) == _refused(
        table, "'quantity': greater_than_or_equal_to(1): 1 failure(s), e.g. 0.0 (rows 0)",
        "'quantity': whole_number: 1 failure(s), e.g. 1.5 (rows 1)")


@pytest.mark.parametrize("table", ["events", "orders"])
def test_a_quantity_written_as_text_is_an_integer(table):
    validated = validate_table(table, MINIMAL[table]().assign(quantity=["1", "2"]))
    assert validated["quantity"].tolist() == [1, 2] and validated["quantity"].dtype == "int64"


@pytest.mark.parametrize("table", ["events", "orders"])
def test_a_missing_quantity_is_refused(table):
    assert _error(table, MINIMAL[table]().assign(quantity=[None, 1])) == _refused(
        table, "'quantity': not_nullable: 1 failure(s), e.g. nan (rows 0)")


# --- orders ---

def test_an_order_may_hold_several_products_but_each_once():
    two = _orders(order_id=["o1", "o1"], product_id=["p1", "p2"])
    assert validate_table("orders", two)["product_id"].tolist() == ["p1", "p2"]
    assert _error("orders", _orders(order_id=["o1", "o1"], product_id="p1")) == _refused(
        "orders", "'order_id': multiple_fields_uniqueness: 2 failure(s), e.g. 'o1', 'o1' "
        "(rows 0, 1)",
        "'product_id': multiple_fields_uniqueness: 2 failure(s), e.g. 'p1', 'p1' (rows 0, 1)")


def test_a_quantity_beyond_what_a_count_holds_is_refused_not_wrapped_round():
    """1e20 items: as an int64 it became -9223372036854775808."""
    assert _error("orders", _orders(quantity=[1e20, 1])) == _refused(
        "orders", "'quantity': less_than_or_equal_to(9007199254740992): 1 failure(s), e.g. "
        "1e+20 (rows 0)")
    assert validate_table("orders", _orders(quantity=[2 ** 53, 1]))["quantity"].tolist() == [
        2 ** 53, 1]


def test_duplicate_lines_are_named_when_the_key_is_all_there_is():
    """An orders table of nothing but its key (order_id, product_id): the key is whole, so a
    line given twice is a duplicate, beside the columns it lacks."""
    lines = pd.DataFrame({"order_id": ["o1", "o1"], "product_id": ["p1", "p1"]})
    assert "'order_id': multiple_fields_uniqueness: 2 failure(s), e.g. 'o1', 'o1' (rows 0, 1)" \
        in _error("orders", lines)


def test_a_missing_order_id_is_named_alone_not_as_duplicate_lines():
    """Without order_id, pandera checked the (order_id, product_id) key on product_id alone and
    called the lines of different orders duplicates."""
    lines = _orders(product_id="p1").drop(columns="order_id")
    assert _error("orders", lines) == _refused("orders", "no column 'order_id'")


# --- queries ---

def test_a_query_is_text_of_at_least_one_character():
    validated = validate_table("queries", _queries(query=[404, "a"]))
    assert validated["query"].tolist() == ["404", "a"] and _strings(validated["query"])
    assert _error("queries", _queries(query=["", None])) == _refused(
        "queries", "'query': not_nullable: 1 failure(s), e.g. nan (rows 1)",
        "'query': str_length(1, None): 1 failure(s), e.g. '' (rows 0)")


# --- timestamps ---

def _parsed(values, **options) -> list:
    return shop.parse_timestamps(pd.Series(values), **options).tolist()


def test_a_single_timestamp_parses():
    assert validate_table("orders", _orders().head(1))["timestamp"].tolist() == [T("2024-01-01")]


def test_timestamps_come_back_as_nanosecond_datetimes():
    seconds = _orders(timestamp=pd.to_datetime(["2024-01-01", "2024-01-02"]).as_unit("s"))
    validated = validate_table("orders", seconds)
    assert validated["timestamp"].dtype == "datetime64[ns]"
    assert validated["timestamp"].tolist() == [T("2024-01-01"), T("2024-01-02")]
    assert shop.parse_timestamps(pd.Series([None, None], dtype=object)).dtype == "datetime64[ns]"


def test_the_earliest_and_latest_datetimes_pandas_holds_are_kept():
    edges = pd.Series([pd.Timestamp.min, pd.Timestamp.max])
    assert shop.parse_timestamps(edges).tolist() == [pd.Timestamp.min, pd.Timestamp.max]


def test_a_column_of_only_missing_timestamps_is_refused_row_by_row():
    assert _parsed(pd.Series([None, None], dtype=object)) == [pd.NaT, pd.NaT]
    assert _error("orders", _orders(timestamp=pd.Series([None, None], dtype=object))) == (
        _refused("orders", "'timestamp': not_nullable: 2 failure(s), e.g. NaT, NaT (rows 0, 1)"))


def test_true_and_false_are_no_timestamps():
    assert _error("orders", _orders(timestamp=[True, False])) == _refused(
        "orders", "'timestamp': not_nullable: 2 failure(s), e.g. NaT, NaT (rows 0, 1)")


def test_infinite_epoch_seconds_are_missing_and_the_others_still_read():
    assert _parsed([1704067200.0, float("inf"), -float("inf")]) == [T("2024-01-01"), pd.NaT,
                                                                    pd.NaT]


def test_epoch_numbers_of_1e11_or_more_are_milliseconds():
    assert _parsed([100_000_000_000]) == [T("1973-03-03 09:46:40")]
    assert _parsed([99_999_999_999]) == [pd.NaT]  # seconds: past the year 2262


def test_epoch_seconds_past_what_a_datetime_holds_are_missing():
    assert _parsed([1704067200.0, 1704153600.0, 1e30]) == [T("2024-01-01"), T("2024-01-02"),
                                                           pd.NaT]


@pytest.mark.parametrize("digits, expected", [
    (["20240131", "20241340"], ["1970-08-23 06:15:31", "1970-08-23 06:35:40"]),
    (["20241301", "20241401"], ["1970-08-23 06:35:01", "1970-08-23 06:36:41"])])
def test_eight_digits_that_are_not_all_dates_are_epoch_seconds(digits, expected):
    """Eight digits are a date only where every value reads as year, month, day."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _parsed(digits) == [T(e) for e in expected]


def test_eight_digit_dates_parse_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _parsed(["20240131", " 20240201 "]) == [T("2024-01-31"), T("2024-02-01")]
        assert _parsed(["2024", "2025"]) == [T("2024-01-01"), T("2025-01-01")]


def test_datetimes_among_text_are_read_as_the_datetimes_they_are():
    mixed = pd.Series(["2024-01-01", T("2024-01-02 10:00")], dtype=object)
    assert _parsed(mixed) == [T("2024-01-01"), T("2024-01-02 10:00")]


def test_times_written_in_several_formats_all_parse():
    assert _parsed(["2024-01-01", "2024-01-02 10:00", "Jan 3 2024"]) == [
        T("2024-01-01"), T("2024-01-02 10:00"), T("2024-01-03")]


def test_a_missing_timestamp_before_a_day_first_date_is_named_by_its_row():
    assert _parsed(["2024-01-01", None, "13/01/2024"]) == [T("2024-01-01"), pd.NaT,
                                                           T("2024-01-13")]


def test_day_first_dates_in_other_formats_are_read_day_first_too():
    """The first value's format reads most; the rest are read one by one, still day first."""
    assert _parsed(["13/01/2024", "05/02/2024 10:00"]) == [T("2024-01-13"),
                                                           T("2024-02-05 10:00")]
    twelve_hour = ["13/01/2024 10:00 PM", "05/02/2024 09:00 AM"]  # no format guessed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _parsed(twelve_hour) == [T("2024-01-13 22:00"), T("2024-02-05 09:00")]


@pytest.mark.parametrize("dates, day_first", [
    (["13/01/2024"], True), (["12/01/2024"], None), (["01/13/2024"], False),
    (["01/12/2024"], None), (["13/01/2024", "01/02/2024"], True),
    (["01/13/2024", "01/02/2024"], False), (["2024-01-13"], None),
    (["13/01/2024", "01/13/2024"], None)])
def test_a_column_shows_day_first_only_where_a_number_is_over_12(dates, day_first):
    assert shop.shows_day_first(pd.Series(dates)) is day_first


def test_one_date_with_a_day_over_12_makes_the_whole_column_day_first():
    assert _parsed(["13/01/2024", "01/02/2024"]) == [T("2024-01-13"), T("2024-02-01")]


@pytest.mark.parametrize("dates, day_first, expected", [
    (["12/01/2024", "05/03/2024"], False, ["2024-12-01", "2024-05-03"]),
    (["12/01/2024", "05/03/2024"], True, ["2024-01-12", "2024-03-05"]),
    (["01/12/2024"], True, ["2024-12-01"]),
    (["01/12/2024"], False, ["2024-01-12"])])
def test_ambiguous_dates_read_in_the_order_another_table_shows(dates, day_first, expected):
    validated = validate_table("orders", _orders().head(len(dates)).assign(timestamp=dates),
                               day_first=day_first)
    assert validated["timestamp"].tolist() == [T(e) for e in expected]


@pytest.mark.parametrize("dates, day_first, expected", [
    (["02/01/2024", "01/13/2024"], True, ["2024-02-01", "2024-01-13"]),
    (["01/02/2024", "13/01/2024"], False, ["2024-02-01", "2024-01-13"])])
def test_a_columns_own_order_beats_the_order_another_table_shows(dates, day_first, expected):
    validated = validate_table("orders", _orders(timestamp=dates), day_first=day_first)
    assert validated["timestamp"].tolist() == [T(e) for e in expected]


def test_a_column_mixing_day_and_month_first_names_at_most_three_rows_of_each():
    dates = ["13/01/2024", "14/01/2024", "15/01/2024", "16/01/2024", "01/13/2024",
             "01/14/2024"]
    assert shop.timestamp_problems(pd.Series(dates)) == (
        "mixes dates written day first (rows 0 ('13/01/2024'), 1 ('14/01/2024'), "
        "2 ('15/01/2024')) and month first (rows 4 ('01/13/2024'), 5 ('01/14/2024')); "
        "write them one way")


def test_a_column_mixing_offsets_names_at_most_three_rows_of_each():
    times = ["2024-01-01T10:00+08:00"] * 4 + ["2024-01-01 10:00"] * 2
    assert shop.timestamp_problems(pd.Series(times)) == (
        "mixes times with a UTC offset (rows 0 ('2024-01-01T10:00+08:00'), "
        "1 ('2024-01-01T10:00+08:00'), 2 ('2024-01-01T10:00+08:00')) and times without "
        "(rows 4 ('2024-01-01 10:00'), 5 ('2024-01-01 10:00')); give every time an offset, "
        "or none")


@pytest.mark.parametrize("values, offsets", [
    (pd.Series(pd.to_datetime(["2024-01-01 10:00"])).dt.tz_localize("Asia/Shanghai"), True),
    (pd.Series(pd.to_datetime(["2024-01-01 10:00"])), False),
    (pd.Series(["2024-01-01T10:00+08:00"]), True), (pd.Series(["2024-01-01 10:00"]), False),
    (pd.Series([1704067200]), None), (pd.Series(["1704067200"]), None),
    (pd.Series([True, False]), False)])
def test_whether_times_carry_an_offset(values, offsets):
    assert shop.has_offsets(values) is offsets
