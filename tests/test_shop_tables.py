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
