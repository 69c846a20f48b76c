"""pandera schemas of a shop's own tables: products, customers, events, orders and queries.

Required columns are the ones the shopping-guide features need; the optional ones are checked
when present. Timestamps are parsed in mixed formats, so ISO strings and datetimes both pass;
dates written day or month first (31/01/2026, 01/31/2026) are read one way for the whole column,
eight digits are dates (20260131), four years (2026), other numbers seconds since the epoch
(milliseconds where most are 1e11 or more), and times with a UTC offset are converted to
UTC; a value that does not parse is reported as a missing timestamp
(:func:`timestamp_problems` names what no parse can settle: a column mixing both orders, or
times with and without an offset).
Validate with :func:`automl_guide.shop.tables.validate_table`, which reports every failing
column, check and sample rows in one error. ``events`` or ``orders`` may stand alone.
"""
from __future__ import annotations

from typing import Any, Callable

EVENT_TYPES = ("view", "cart", "purchase")
# 31/01/2026 or 01/31/2026
_DAY_MONTH = r"^\s*(?P<first>\d{1,2})[/.-](?P<second>\d{1,2})[/.-](?P<year>\d{4})"
# after a time: ...T10:00+08:00, ...T02:00Z, 10:00:00 -0500, hours alone (10:00-05), T1000+0800;
# not the year of 31-01-2026 or 01-Jan-2026
_OFFSET = (r"(?:\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{2,6})\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$")
_EPOCH = r"^\s*[+-]?\d+(?:\.\d*)?\s*$"  # 1767346977: seconds since the epoch


def _pa() -> Any:
    import pandera.pandas as pa

    return pa


def _strip(values: Any) -> Any:
    """" P0014 " is P0014: spaces around an id are a spreadsheet's, not the shop's; 10.0 is 10
    (an integer id column that pandas made float, as a missing value or a merge does)."""
    import pandas as pd

    if pd.api.types.is_float_dtype(values.dtype):
        whole = (values % 1 == 0) & (values.abs() < 2**63)
        out = values.astype(object)
        out[whole] = values[whole].astype("int64").astype(str)
        return out
    if _is_number(values.dtype):
        return values  # written as text by the column's coercion
    if isinstance(values.dtype, pd.StringDtype):  # text and missing values only: all at once
        return values.str.strip()
    return values.map(lambda v: v.strip() if isinstance(v, str) else _number_text(v)
                      if _is_whole(v) else v)


def _is_whole(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (float, np.floating)) and float(value).is_integer()


def _number_text(value: Any) -> str:
    """20260131.0 as 20260131, as the number is written: a date of eight digits, not epoch
    seconds."""
    return f"{value:.0f}" if _is_whole(value) else str(value)


def _is_number(dtype: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _id(pa: Any, required: bool = True, nullable: bool = False, unique: bool = False) -> Any:
    return pa.Column(str, pa.Check(lambda s: s.str.len() > 0, name="not_empty"),
                     nullable=nullable, required=required, unique=unique, coerce=True,
                     parsers=pa.Parser(_strip))


def _timestamp(pa: Any) -> Any:
    """Mixed formats ("2024-03-01", "2024-03-01 10:00") parse; what does not parse becomes a
    missing timestamp, reported as such."""
    return pa.Column("datetime64[ns]", nullable=False, coerce=True,
                     parsers=pa.Parser(parse_timestamps))


def _texts(values: Any) -> Any:
    """The column's non-missing values as text (the index kept), or None for a typed column."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype) or _is_number(values.dtype):
        return None
    values = values.dropna()
    if not len(values):
        return None
    if pd.api.types.infer_dtype(values, skipna=True) != "string":  # datetimes among text
        values = values.map(lambda v: v if isinstance(v, str) else _number_text(v))
    return values.astype("string[pyarrow]")  # its str methods run in Arrow, not per row


def _match(text: Any, pattern: str) -> Any:
    """Which values ``pattern`` finds (``re.search``), in Arrow (RE2): pandas' own string
    methods test a million timestamps one by one, in seconds."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.match_substring_regex(pa.array(text), pattern)
    return pd.Series(found.to_numpy(zero_copy_only=False), index=text.index, dtype=bool)


def _orders(text: Any) -> tuple[Any, Any]:
    """Of the dates written day/month/year or month/day/year: which can only be day first (a
    first number over 12) and which only month first (a second number over 12)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.extract_regex(pa.array(text), _DAY_MONTH)
    first, second = (pc.cast(pc.struct_field(parts, name), pa.int64())
                     .to_numpy(zero_copy_only=False) for name in ("first", "second"))
    first, second = (np.nan_to_num(np.asarray(a, dtype=float)) for a in (first, second))
    return text.index[first > 12], text.index[second > 12]


def _compact_dates(text: Any) -> Any:
    """20260131 as a date where every value is eight digits that read as one, 2026 as a year
    where every value is four digits (as a flat table's column of years reads), else None."""
    import pandas as pd

    for digits, form in ((8, "%Y%m%d"), (4, "%Y")):
        if _match(text, rf"^\s*\d{{{digits}}}\s*$").all():
            dates = pd.to_datetime(text.str.strip().astype(object), format=form,
                                   errors="coerce")
            return dates if dates.notna().all() else None
    return None


def shows_day_first(values: Any) -> bool | None:
    """Whether the column's dates are written day first (some first number over 12), month
    first (some second number over 12), or None where nothing says (no such dates, or all
    ambiguous such as 01/02/2026)."""
    text = _texts(values.reset_index(drop=True))
    if text is None:
        return None
    day, month = (len(found) > 0 for found in _orders(text))
    return None if day == month else day


def parse_timestamps(values: Any, day_first: bool | None = None) -> Any:
    """``values`` as naive UTC datetimes (see :func:`_parse`), by position: a table concatenated
    without ``ignore_index`` repeats its index labels. ``day_first`` settles dates that the
    column alone leaves ambiguous (another table of the shop shows the order)."""
    out = _parse(values.reset_index(drop=True), day_first)
    out.index = values.index
    return out


def _ns(stamps: Any) -> Any:
    """Datetimes of any unit as nanoseconds, those beyond what that holds (a year 9999
    placeholder, milliseconds read as seconds) missing, as an unparseable value is."""
    import pandas as pd

    inside = (stamps >= pd.Timestamp.min) & (stamps <= pd.Timestamp.max)
    return stamps.where(inside).astype("datetime64[ns]")


def _parse(values: Any, day_first: bool | None = None) -> Any:
    """``values`` as naive UTC datetimes, unparseable ones missing: ISO text in any of its forms,
    day- or month-first dates read one way for the whole column (day first where some first
    number is over 12; where none says, as ``day_first`` says, else month first), dates as eight
    digits (20260131), years as four (2026), other numbers (or text of digits) as seconds since
    the epoch, and times with a UTC offset converted to UTC."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _ns(values.dt.tz_convert(None) if values.dt.tz is not None else values)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    numeric = _is_number(values.dtype)
    finite = values[values.abs() < float("inf")] if numeric else None  # inf: missing
    text = (finite.map(_number_text).astype("string[pyarrow]") if numeric else _texts(values))
    if text is None or not len(text):
        return out
    compact = _compact_dates(text)
    if compact is not None:
        out[text.index] = _ns(compact)
    elif _match(text, _EPOCH).all():
        seconds = pd.to_numeric(values[text.index] if numeric else text)
        unit = "ms" if seconds.abs().median() >= 1e11 else "s"  # past 1973 in ms: a 0 is 1970
        out[text.index] = _ns(pd.to_datetime(seconds, unit=unit, errors="coerce"))
    else:
        dates = _match(text, _DAY_MONTH)
        day, month = (len(found) > 0 for found in _orders(text))
        if day or month or day_first is None:
            day_first = day  # the column's own order comes first
        for mask, first in ((dates, day_first), (~dates, False)):  # dayfirst misreads ISO
            if mask.any():
                parsed = _parse_text(text[mask].astype(object), first)
                out[parsed.index] = _ns(parsed.dt.tz_convert(None))
    return out


def _parse_text(text: Any, day_first: bool) -> Any:
    """The format of the first value for all that have it (fast), the rest one by one."""
    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    form = guess_datetime_format(text.iloc[0], dayfirst=day_first)
    parsed = (pd.to_datetime(text, format=form, errors="coerce", utc=True) if form
              else pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]"))
    rest = parsed.isna()
    if rest.any():
        parsed[rest] = pd.to_datetime(text[rest], format="mixed", dayfirst=day_first,
                                      errors="coerce", utc=True)
    return parsed


def timestamp_problems(values: Any) -> str | None:
    """What no parse can settle in a timestamp column, with the rows (positions) at fault: dates
    both day first and month first, or times with a UTC offset beside times without."""
    text = _texts(values.reset_index(drop=True))  # by position: labels may repeat
    if text is None:
        return None

    def rows(positions: Any) -> str:
        return ", ".join(f"{i} ({text[i]!r})" for i in list(positions)[:3])

    day_first, month_first = _orders(text)
    if len(day_first) and len(month_first):
        return (f"mixes dates written day first (rows {rows(day_first)}) and month first (rows "
                f"{rows(month_first)}); write them one way")
    offset = _match(text, _OFFSET)
    if offset.any() and not offset.all():
        return (f"mixes times with a UTC offset (rows {rows(text.index[offset])}) and times "
                f"without (rows {rows(text.index[~offset])}); give every time an offset, or none")
    return None


def has_offsets(values: Any) -> bool | None:
    """Whether the column's times carry a UTC offset (a time-zone-aware column, or text with
    one such as +08:00); None for epoch numbers, which are UTC and fit either."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.tz is not None
    if _is_number(values.dtype):
        return None
    text = _texts(values)
    if text is not None and _match(text, _EPOCH).all() and _compact_dates(text) is None:
        return None  # epoch seconds written as text
    return text is not None and bool(_match(text, _OFFSET).any())


def _money(pa: Any, required: bool = True) -> Any:
    return pa.Column(float, pa.Check.ge(0), nullable=False, required=required, coerce=True)


MAX_QUANTITY = 2 ** 53  # the largest whole number a float holds exactly: within int64


def _quantity(pa: Any, required: bool = True) -> Any:
    """Whole items, at least one (1.5 is refused as written, not cut to 1) and at most
    :data:`MAX_QUANTITY` (1e20 wrapped round to a negative count as an integer)."""
    return pa.Column(float, [pa.Check.ge(1), pa.Check.le(MAX_QUANTITY),
                             pa.Check(lambda s: s % 1 == 0, name="whole_number")],
                     nullable=False, required=required, coerce=True)


def products() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "product_id": _id(pa, unique=True),
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
        "customer_id": _id(pa, unique=True),
    }, name="customers", strict=False)


_EVENT_NAMES = (f"one of {', '.join(EVENT_TYPES)}; map the shop's own names to these (such as "
                "addtocart to cart, transaction to purchase) and drop the rest")


def _lower(values: Any) -> Any:
    """"View " is view: case and spaces around an event type are an export's, not the shop's."""
    import pandas as pd

    if isinstance(values.dtype, pd.StringDtype):  # text and missing values only: all at once
        return values.str.strip().str.lower()
    return values.map(lambda v: v.strip().lower() if isinstance(v, str) else v)


def events() -> Any:
    pa = _pa()
    return pa.DataFrameSchema({
        "customer_id": _id(pa),
        "product_id": _id(pa),
        "event_type": pa.Column(str, pa.Check.isin(EVENT_TYPES, error=_EVENT_NAMES),
                                nullable=False, coerce=True, parsers=pa.Parser(_lower)),
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
