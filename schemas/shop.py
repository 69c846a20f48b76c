"""pandera schemas of a shop's own tables: products, customers, events, orders and queries.

Required columns are the ones the shopping-guide features need; the optional ones are checked
when present. Timestamps are parsed in mixed formats, so ISO strings and datetimes both pass;
a value that does not parse is reported as a missing timestamp.
Validate with :func:`automl_guide.shop_tables.validate_table`, which reports every failing
column, check and sample rows in one error. ``events`` or ``orders`` may stand alone.
"""
from __future__ import annotations

from typing import Any, Callable

EVENT_TYPES = ("view", "cart", "purchase")


def _pa() -> Any:
    import pandera.pandas as pa

    return pa


def _id(pa: Any, required: bool = True, nullable: bool = False) -> Any:
    return pa.Column(str, nullable=nullable, required=required, coerce=True)


def _timestamp(pa: Any) -> Any:
    """Mixed formats ("2024-03-01", "2024-03-01 10:00") parse; what does not parse becomes a
    missing timestamp, reported as such."""
    import pandas as pd

    return pa.Column("datetime64[ns]", nullable=False, coerce=True, parsers=pa.Parser(
        lambda s: pd.to_datetime(s, format="mixed", errors="coerce")))


def _money(pa: Any, required: bool = True) -> Any:
    return pa.Column(float, pa.Check.ge(0), nullable=False, required=required, coerce=True)


def _quantity(pa: Any, required: bool = True) -> Any:
    return pa.Column(int, pa.Check.ge(1), nullable=False, required=required, coerce=True)


def products() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "product_id": pa.Column(str, unique=True, nullable=False, coerce=True),
        "category": pa.Column(str, nullable=False, coerce=True),
        "price": _money(pa),
        "brand": pa.Column(str, nullable=True, required=False, coerce=True),
        "rating": pa.Column(float, pa.Check.in_range(0, 5), nullable=True, required=False,
                            coerce=True),
        "review_count": pa.Column(float, pa.Check.ge(0), nullable=True, required=False,
                                  coerce=True),
        "title": pa.Column(str, nullable=True, required=False, coerce=True),
    }, name="products", strict=False)


def customers() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "customer_id": pa.Column(str, unique=True, nullable=False, coerce=True),
    }, name="customers", strict=False)


def events() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "customer_id": _id(pa),
        "product_id": _id(pa),
        "event_type": pa.Column(str, pa.Check.isin(EVENT_TYPES), nullable=False, coerce=True),
        "timestamp": _timestamp(pa),
        "session_id": _id(pa, required=False, nullable=True),
        "quantity": _quantity(pa, required=False),
        "price": _money(pa, required=False),
    }, name="events", strict=False)


def orders() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "order_id": _id(pa),
        "customer_id": _id(pa),
        "product_id": _id(pa),
        "quantity": _quantity(pa),
        "price": _money(pa),
        "timestamp": _timestamp(pa),
    }, name="orders", strict=False, unique=["order_id", "product_id"])


def queries() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "customer_id": _id(pa),
        "query": pa.Column(str, pa.Check.str_length(min_value=1), nullable=False, coerce=True),
        "timestamp": _timestamp(pa),
        "clicked_product_id": _id(pa, required=False, nullable=True),
        "bought_product_id": _id(pa, required=False, nullable=True),
    }, name="queries", strict=False)


TABLES: dict[str, Callable[[], Any]] = {"products": products, "customers": customers,
                                        "events": events, "orders": orders, "queries": queries}
