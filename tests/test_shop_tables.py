"""The shop tables' schemas: good tables pass (coerced), bad ones fail with every problem named."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from automl_guide import DataError
from automl_guide.shop.tables import validate_table


def _events() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["c1", "c1", "c2", "c3"], "product_id": ["p1", "p2", "p1", "p3"],
        "event_type": ["view", "cart", "purchase", "view"],
        "timestamp": ["2024-03-01 10:00", "2024-03-01 10:05", "2024-03-02", "2024-03-03"]})


def test_good_tables_pass_and_come_back_typed():
    events = validate_table("events", _events())
    assert str(events["timestamp"].dtype).startswith("datetime64")
    products = validate_table("products", pd.DataFrame({
        "product_id": [1, 2], "category": ["dress", "shoes"], "price": ["19.9", 25],
        "rating": [4.5, None]}))
    assert products["product_id"].tolist() == ["1", "2"] and products["price"].dtype == float
    orders = validate_table("orders", pd.DataFrame({
        "order_id": ["o1", "o1"], "customer_id": ["c1", "c1"], "product_id": ["p1", "p2"],
        "quantity": [1, 2], "price": [9.5, 3.0], "timestamp": ["2024-01-01", "2024-01-01"]}))
    assert orders["quantity"].dtype.kind == "i"


def test_a_bad_events_table_names_every_problem_at_once():
    bad = _events().assign(event_type=["view", "click", "purchase", "view"],
                           price=[10.0, -1.0, 5.0, 3.0])
    bad.loc[2, "customer_id"] = None
    bad.loc[3, "timestamp"] = "yesterday"
    with pytest.raises(DataError) as caught:
        validate_table("events", bad)
    message = str(caught.value)
    assert message.startswith("The events table does not match its schema")
    for expected in ("'event_type'", "'click'", "'price'", "greater_than_or_equal_to(0)",
                     "'customer_id'", "'timestamp'", "not_nullable"):
        assert expected in message, message
    assert "one of view, cart, purchase; map the shop's own names to these" in message
    exported = _events().assign(event_type=[" View", "CART", "Purchase", "view"])  # as written
    assert validate_table("events", exported)["event_type"].tolist() == [
        "view", "cart", "purchase", "view"]


def test_missing_required_columns_and_duplicate_keys_are_named():
    with pytest.raises(DataError, match="'price'"):
        validate_table("products", pd.DataFrame({"product_id": ["p1"], "category": ["x"]}))
    with pytest.raises(DataError, match="product_id"):
        validate_table("products", pd.DataFrame({"product_id": ["p1", "p1"],
                                                 "category": ["x", "y"], "price": [1, 2]}))
    with pytest.raises(DataError, match="Unknown shop table 'sales'"):
        validate_table("sales", _events())


GOOD = {
    "products": pd.DataFrame({"product_id": ["p1", "p2"], "category": ["tea", "coffee"],
                              "price": [3.5, 9.0], "title": ["绿茶 green tea", "espresso"]}),
    "customers": pd.DataFrame({"customer_id": ["c1", "c2"], "city": ["Shanghai", "Beijing"]}),
    "events": _events(),
    "orders": pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["c1", "c2"],
                            "product_id": ["p1", "p1"], "quantity": [1, 3], "price": [3.5, 3.5],
                            "timestamp": ["2024-01-01", "2024-01-02 08:00"]}),
    "queries": pd.DataFrame({"customer_id": ["c1", "c2"], "query": ["红茶", "dark roast"],
                             "timestamp": ["2024-01-01", "2024-01-02"],
                             "bought_product_id": ["p1", None]}),
}
BAD = {  # table -> (a broken copy, the column the error must name)
    "products": (lambda f: f.assign(price=[3.5, -2.0]), "price"),
    "customers": (lambda f: f.assign(customer_id=["c1", "c1"]), "customer_id"),
    "events": (lambda f: f.assign(event_type=["view", "like", "cart", "view"]), "event_type"),
    "orders": (lambda f: f.assign(quantity=[1, 0]), "quantity"),
    "queries": (lambda f: f.assign(query=["红茶", ""]), "query"),
}


@pytest.mark.parametrize("table", sorted(GOOD))
def test_every_shop_table_accepts_a_good_table_and_names_the_bad_column(table):
    from automl_guide_schemas.shop import TABLES

    assert set(GOOD) == set(TABLES)  # a new table needs its own case here
    assert len(validate_table(table, GOOD[table])) == len(GOOD[table])
    breaker, column = BAD[table]
    with pytest.raises(DataError, match=rf"(?s)The {table} table does not match.*'{column}'"):
        validate_table(table, breaker(GOOD[table].copy()))


# --- a shop's files as a data engineer sends them (from a fuzzing pass over the shop layer) ---

def _shop() -> dict[str, pd.DataFrame]:
    from automl_guide.shop.demo import generate_shop

    return generate_shop(n_customers=40, n_products=20, days=60, seed=0)


def _write(folder, tables: dict[str, pd.DataFrame]):
    folder.mkdir(exist_ok=True)
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_ids_are_read_as_written_and_must_match_across_tables(tmp_path):
    """'0023' keeps its zeros in every CSV (a column of digits is not a number), spaces around
    an id go, and ids that match nothing in the catalogue are an error naming both sides."""
    from automl_guide.shop.load import load_shop

    tables = _shop()
    for name in ("orders", "events", "products"):
        tables[name]["product_id"] = tables[name]["product_id"].str[1:]  # P0023 -> 0023
    tables["orders"]["product_id"] = " " + tables["orders"]["product_id"] + " "
    shop = load_shop(_write(tmp_path / "padded", tables))
    assert shop.interactions["product_id"].str.fullmatch(r"\d{4}").all()
    assert shop.interactions["product_id"].isin(shop.products.index).all()

    tables["products"]["product_id"] = "P" + tables["products"]["product_id"]
    with pytest.raises(DataError, match=r"0 of the \d+ product_id values in orders and events "
                       r"are in the products table \(orders and events: '\d{4}'.*products: "
                       r"'P\d{4}'.*write the ids the same way in every table"):
        load_shop(_write(tmp_path / "prefixed", tables))
    tables = _shop()
    tables["customers"] = tables["customers"].head(10)  # most customers missing: a warning
    with pytest.warns(UserWarning, match=r"customer_id values in orders and events are in the "
                      r"customers table .* customers features are missing for the others"):
        load_shop(tables)
    tables["orders"].loc[3, "customer_id"] = "  "
    with pytest.raises(DataError, match=r"'customer_id': not_empty.*rows 3"):
        load_shop(tables)


@pytest.mark.parametrize("written, day", [("%d/%m/%Y %H:%M", "day first"),
                                          ("%m/%d/%Y %H:%M", "month first"),
                                          ("%d.%m.%Y", "day first, dots"),
                                          ("%Y%m%d", "eight digits"),
                                          ("%Y", "years, as a flat table reads them"),
                                          ("epoch", "seconds since the epoch")])
def test_timestamps_are_read_one_way_for_the_whole_column(written, day):
    """Day-first dates were read month first where the day was 12 or less (a shop of January
    to April came out spread to November); each form now reads as the ISO text does."""
    tables = _shop()
    times = pd.to_datetime(tables["orders"]["timestamp"]).dt.floor(
        "min" if "%H" in written else "s" if written == "epoch" else "D")
    if written == "%Y":
        times = times.dt.to_period("Y").dt.to_timestamp()
    tables["orders"]["timestamp"] = ((times - pd.Timestamp(0)).dt.total_seconds().astype(int)
                                     if written == "epoch" else times.dt.strftime(written))
    assert written == "%Y" or ((times.dt.day > 12).any() and (times.dt.day <= 12).any())
    validated = validate_table("orders", tables["orders"])
    pd.testing.assert_series_equal(validated["timestamp"], times.astype("datetime64[ns]"),
                                   check_names=False)


def test_timestamps_no_parse_can_settle_are_named_with_their_rows():
    from automl_guide.shop.load import load_shop

    orders = GOOD["orders"].assign(timestamp=["13/01/2024", "01/13/2024"])
    with pytest.raises(DataError, match=r"The orders table's 'timestamp' column mixes dates "
                       r"written day first \(rows 0 \('13/01/2024'\)\) and month first \(rows 1 "
                       r"\('01/13/2024'\)\); write them one way"):
        validate_table("orders", orders)
    orders = GOOD["orders"].assign(timestamp=["2024-01-01T10:00+08:00", "2024-01-01 10:00"])
    with pytest.raises(DataError, match=r"mixes times with a UTC offset \(rows 0 .*\) and times "
                       r"without \(rows 1 .*\); give every time an offset, or none"):
        validate_table("orders", orders)
    aware = GOOD["orders"].assign(timestamp=["2024-01-01T10:00+08:00", "2024-01-02T08:00+08:00"])
    assert validate_table("orders", aware)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 02:00"), pd.Timestamp("2024-01-02 00:00")]  # UTC
    with pytest.raises(DataError, match=r"The orders table's times carry a UTC offset .* and the "
                       r"events table's do not"):
        load_shop({"orders": aware, "events": GOOD["events"]})
    epoch = GOOD["orders"].assign(timestamp=[1704067200, 1704182400])  # UTC: fits either
    utc = GOOD["events"].assign(timestamp=pd.to_datetime(GOOD["events"]["timestamp"],
                                                         format="mixed").dt.tz_localize("UTC"))
    assert len(load_shop({"orders": epoch, "events": utc}).interactions) == 5
    as_text = epoch.assign(timestamp=epoch["timestamp"].astype(str))  # as a CSV may hold them
    assert len(load_shop({"orders": as_text, "events": utc}).interactions) == 5


def test_a_table_of_ambiguous_dates_reads_in_the_order_another_table_shows():
    """Events written day first (31/01/2024) beside orders that happen to hold only dates of 12
    or less: the orders were read month first (2 January for 01/02/2024), a month off."""
    from automl_guide.shop.load import load_shop

    orders = GOOD["orders"].assign(timestamp=["01/02/2024", "02/02/2024 10:00"])
    events = _events().assign(timestamp=["31/01/2024", "01/02/2024", "03/02/2024", "14/02/2024"])
    bought = load_shop({"orders": orders, "events": events}).interactions.query(
        "event_type == 'purchase'")
    assert sorted(bought["timestamp"]) == [pd.Timestamp("2024-02-01"),
                                           pd.Timestamp("2024-02-02 10:00")]
    alone = load_shop({"orders": orders}).interactions  # nothing says: month first, documented
    assert sorted(alone["timestamp"]) == [pd.Timestamp("2024-01-02"),
                                          pd.Timestamp("2024-02-02 10:00")]
    reverse = load_shop({"orders": orders.assign(timestamp=["31/01/2024", "13/02/2024"]),
                         "events": events.assign(timestamp=["01/02/2024", "02/03/2024",
                                                            "03/03/2024", "04/03/2024"])})
    viewed = reverse.interactions.query("event_type != 'purchase'")["timestamp"]
    assert sorted(viewed) == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-02"),
                              pd.Timestamp("2024-03-04")]  # the purchase event: from orders
    month_first = events.assign(timestamp=["01/31/2024", "02/01/2024", "02/03/2024", "02/14/2024"])
    bought = load_shop({"orders": orders, "events": month_first}).interactions.query(
        "event_type == 'purchase'")
    assert sorted(bought["timestamp"]) == [pd.Timestamp("2024-01-02"),
                                           pd.Timestamp("2024-02-02 10:00")]


def test_quantities_are_whole_and_a_shop_needs_purchases():
    from automl_guide.shop.load import load_shop
    from automl_guide.shop.run import fit_shop

    orders = GOOD["orders"].assign(quantity=[1.5, 2.0])
    with pytest.raises(DataError, match=r"'quantity': whole_number: 1 failure\(s\), e.g. 1.5 "
                       r"\(rows 0\)"):
        validate_table("orders", orders)
    whole = validate_table("orders", orders.assign(quantity=[1.0, 2.0]))
    assert whole["quantity"].tolist() == [1, 2]
    views = GOOD["events"].assign(event_type=["view", "cart", "view", "view"])
    with pytest.raises(DataError, match=r"The shop has no purchases \(events given; no orders "
                       r"table and no 'purchase' events\)"):
        fit_shop({"events": views}, time_budget=None, out=None)
    with pytest.raises(DataError, match=r"(?s)The queries table does not match.*'query'"):
        load_shop({"events": GOOD["events"], "queries": GOOD["queries"].assign(query=["", "x"])})


def test_a_shop_folder_is_read_by_exact_names(tmp_path):
    """orders.backup.csv beside orders.csv was read instead of it (sorted first): now only
    NAME.csv / .csv.gz / .parquet / .pq count, in any case; others are named in a warning, and
    two files of one table are refused."""
    from automl_guide.shop.load import load_shop

    tables = _shop()
    folder = _write(tmp_path / "shop", tables)
    (folder / "orders.csv").rename(folder / "Orders.CSV")
    tables["orders"].head(5).to_csv(folder / "orders.backup.csv", index=False)
    with pytest.warns(UserWarning, match=r"Not read from .*: orders.backup.csv \(a table is "
                      r"NAME.csv, NAME.csv.gz, NAME.tsv, NAME.txt, NAME.parquet, NAME.pq\)"):
        shop = load_shop(folder)
    assert (shop.interactions["event_type"] == "purchase").sum() == len(tables["orders"])
    tables["orders"].to_parquet(folder / "orders.parquet")
    with pytest.raises(DataError, match=r"holds 2 orders tables \(Orders.CSV, orders.parquet\); "
                       "keep one"):
        load_shop(folder)


@pytest.mark.parametrize("horizon, said", [
    (float("nan"), "Cannot read nan as a duration"),
    (float("inf"), "Cannot read inf as a duration"),
    (0, "The horizon must be positive, not 0"), (-5, "The horizon must be positive, not -5")])
def test_a_horizon_that_is_no_positive_duration_is_refused(horizon, said):
    from automl_guide.shop.history import to_timedelta

    with pytest.raises(DataError, match=re.escape(said)):
        to_timedelta(horizon)


def test_cutoffs_k_and_negatives_that_cannot_be_read_are_refused_by_name():
    from automl_guide.shop.load import load_shop
    from automl_guide.shop.run import fit_shop, plan_cutoffs

    shop = load_shop(_shop())
    with pytest.raises(DataError, match=r"Cannot read the test cutoff 'abc' as a date"):
        plan_cutoffs(shop, pd.Timedelta(days=7), test_cutoff="abc")
    with pytest.raises(DataError, match=r"Cannot read the cutoff '2026-13-01' as a date"):
        plan_cutoffs(shop, pd.Timedelta(days=7), cutoffs=["2026-13-01"])
    with pytest.raises(DataError, match=r"The test cutoff '01/02/2026' reads as day first or "
                       r"month first; write it year first: 2026-02-01 or 2026-01-02"):
        plan_cutoffs(shop, pd.Timedelta(days=7), test_cutoff="01/02/2026")
    with pytest.raises(DataError, match=r"The cutoff '01/02/26' reads as day first or month "
                       r"first; write it year first: 2026-02-01 or 2026-01-02"):
        plan_cutoffs(shop, pd.Timedelta(days=7), cutoffs=["01/02/26"])
    for option in ({"k": 0}, {"negatives": -1}, {"k": 2.5}):
        name, value = next(iter(option.items()))
        with pytest.raises(DataError, match=re.escape(f"{name} must be a whole number of at "
                                                      f"least 1, not {value!r}")):
            fit_shop(shop, time_budget=None, out=None, **option)


def test_a_shop_too_small_to_validate_or_dated_in_the_future_is_named():
    """One customer: the search validates on customers it did not train on, so the error says
    that (it told the user to give fewer folds, an option fit_shop does not have). A typo'd year
    moves every cutoff: a warning names the row before the cutoffs' own error."""
    from automl_guide.shop.run import fit_shop

    tables = _shop()
    one = tables["orders"]["customer_id"].value_counts().index[0]
    alone = {"orders": tables["orders"][tables["orders"]["customer_id"] == one]}
    with pytest.raises(DataError, match=r"The training table holds 1 customer\(s\); the search "
                       r"validates on customers it did not train on \(3 folds of them\), so it "
                       r"needs at least 3"):
        fit_shop(alone, horizon=7, time_budget=None, out=None)
    with pytest.raises(DataError, match=r"The training table holds 1 customer\(s\); the search "
                       r"validates on customers it did not train on \(a held-out share\), so "
                       r"it needs at least 2"):
        fit_shop(alone, task="purchase", horizon=7, time_budget=None, out=None)
    tables["orders"].loc[0, "timestamp"] = "2099-01-01 10:00"
    with pytest.warns(UserWarning, match=r"1 interaction\(s\) are dated after today \(customer "
                      r"'C\d+', product 'P\d+': 2099-01-01 10:00:00\)"), \
            pytest.raises(DataError, match=r"No candidate was bought within 7 days of the "
                          r"training cutoffs 2098"):
        fit_shop(tables, horizon=7, time_budget=None, out=None)
    with pytest.warns(UserWarning, match="dated after today"), \
            pytest.raises(DataError, match=r"within 0\.5 days of the training cutoffs 2098"):
        fit_shop(tables, horizon="12h", time_budget=None, out=None)  # hours: not "0 days"
    tables = _shop()  # days since the epoch, read as seconds: all of it on 1 January 1970
    for name in ("orders", "events"):
        tables[name]["timestamp"] = (pd.to_datetime(tables[name]["timestamp"])
                                     - pd.Timestamp(0)).dt.days
    with pytest.warns(UserWarning, match=r"\d+ interaction\(s\) are dated before 1990 \(customer "
                      r"'C\d+', product 'P\d+': 1970-01-01 .*\); numbers are read as seconds "
                      r"since the epoch"), \
            pytest.raises(DataError, match=r"The test cutoff 1969-12-25 .* must fall inside"):
        fit_shop(tables, horizon=7, time_budget=None, out=None)


def test_a_table_may_be_a_folder_of_parquet_parts(tmp_path):
    """orders.parquet/ as Spark writes it (part files), or orders/; not Parquet: named."""
    from automl_guide.shop.load import load_shop

    tables = _shop()
    folder = _write(tmp_path / "shop", {"products": tables["products"]})
    (folder / "orders.parquet").mkdir()
    half = len(tables["orders"]) // 2
    tables["orders"].iloc[:half].to_parquet(folder / "orders.parquet" / "part-0.parquet")
    tables["orders"].iloc[half:].to_parquet(folder / "orders.parquet" / "part-1.parquet")
    shop = load_shop(folder)
    assert (shop.interactions["event_type"] == "purchase").sum() == len(tables["orders"])
    (folder / "events").mkdir()
    (folder / "events" / "notes.txt").write_text("not parquet")
    with pytest.raises(DataError, match=r"Could not read the folder .*events as Parquet parts"):
        load_shop(folder)


def test_timestamps_by_position_and_beyond_what_pandas_holds():
    """A table concatenated without ignore_index repeats its labels (parsing crashed on it);
    a year-9999 placeholder is a missing timestamp named by row (it crashed); epoch numbers of
    1e11 or more are milliseconds."""
    orders = GOOD["orders"]
    twice = pd.concat([orders, orders.assign(order_id=["o3", "o4"])])
    assert twice.index.tolist() == [0, 1, 0, 1]
    assert validate_table("orders", twice)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 08:00")] * 2
    with pytest.raises(DataError, match=r"'timestamp': not_nullable: 1 failure\(s\), e.g. NaT "
                       r"\(rows 3\)"):  # the position, not the repeated label 1
        validate_table("orders", twice.assign(timestamp=["2024-01-05"] * 3 + ["9999-12-31"]))
    millis = orders.assign(timestamp=[1704067200000, 1704182400000])
    assert validate_table("orders", millis)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 08:00")]
    placeholder = pd.concat([millis, millis.assign(order_id="o3", timestamp=0).head(1)])
    assert validate_table("orders", placeholder)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 08:00"), pd.Timestamp(0)]


def test_numbers_pandas_made_float_read_as_written():
    """Ids 10.0 (an integer column pandas made float) are "10", as in the tables of ints they
    join; dates 20240101.0 in an object column are dates, not epoch seconds."""
    from automl_guide.shop.load import load_shop

    orders = GOOD["orders"].assign(customer_id=[10.0, 11.0],
                                   timestamp=pd.Series([20240101.0, 20240102.0], dtype=object))
    validated = validate_table("orders", orders)
    assert validated["customer_id"].tolist() == ["10", "11"]
    assert validated["timestamp"].tolist() == [pd.Timestamp("2024-01-01"),
                                               pd.Timestamp("2024-01-02")]
    events = GOOD["events"].assign(customer_id=10)
    shop = load_shop({"orders": orders.assign(timestamp=GOOD["orders"]["timestamp"]),
                      "events": events})
    assert set(shop.interactions["customer_id"]) == {"10", "11"}


def test_an_hours_only_offset_beside_naive_times_is_named():
    for offset in ("2024-01-01T10:00-05", "2024-01-01 10:00 -05"):
        orders = GOOD["orders"].assign(timestamp=[offset, "2024-01-01 10:00"])
        with pytest.raises(DataError, match=r"mixes times with a UTC offset \(rows 0 "):
            validate_table("orders", orders)
    named_month = GOOD["orders"].assign(timestamp=["01-Jan-2024", "2024-01-02"])  # -2024: a year
    assert validate_table("orders", named_month)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]
    both = GOOD["orders"].assign(timestamp=["2024-01-01T10:00-05", "2024-01-01T10:00:30-05"])
    assert validate_table("orders", both)["timestamp"].tolist() == [
        pd.Timestamp("2024-01-01 15:00"), pd.Timestamp("2024-01-01 15:00:30")]


def test_validate_table_refuses_unknown_names_and_empty_tables_in_one_sentence():
    from automl_guide.shop.tables import validate_table

    orders = _shop()["orders"]
    with pytest.raises(DataError) as caught:
        validate_table("baskets", orders)
    assert str(caught.value) == ("Unknown shop table 'baskets'; the tables are products, "
                                 "customers, events, orders, queries.")
    for empty in (orders.iloc[:0], orders.to_dict("records")):  # no rows; not a DataFrame
        with pytest.raises(DataError) as caught:
            validate_table("orders", empty)
        assert str(caught.value) == "The orders table has no rows."


def test_validate_table_keeps_the_callers_columns_and_index():
    from automl_guide.shop.tables import validate_table

    orders = _shop()["orders"].head(30)
    orders.index = orders.index * 10 + 5  # labels a concatenation might leave
    table = validate_table("orders", orders)
    assert list(table.columns) == list(orders.columns)
    assert table.index.equals(orders.index)
