"""The shop tables' schemas: good tables pass (coerced), bad ones fail with every problem named."""
from __future__ import annotations

import pandas as pd
import pytest

from automl_guide import DataError
from automl_guide.shop_tables import validate_table


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
