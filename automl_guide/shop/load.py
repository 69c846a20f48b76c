"""A shop's tables from a folder (CSV, TSV or Parquet files, or folders of Parquet parts) or
from DataFrames, checked and joined into :class:`~automl_guide.shop.history.ShopData`."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Mapping

import pandas as pd

from ..errors import DataError
from .history import ShopData
from .tables import validate_table

TABLE_FILES = ("orders", "events", "products", "customers")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".pq")
ID_COLUMNS = ("order_id", "customer_id", "product_id", "session_id", "clicked_product_id",
              "bought_product_id")


def load_shop(data: ShopData | Mapping[str, pd.DataFrame] | str | os.PathLike) -> ShopData:
    """A :class:`ShopData` from tables, or a directory of ``orders``, ``events``, ``products``,
    ``customers`` and ``queries`` files (``NAME.csv``, ``NAME.csv.gz``, ``NAME.tsv``,
    ``NAME.txt``, ``NAME.parquet`` or ``NAME.pq``, in any case, or a folder of Parquet parts).
    Ids in a CSV are read as written (``0023`` keeps its zeros)."""
    if isinstance(data, ShopData):
        return data
    if isinstance(data, Mapping):
        unknown = set(data) - set(TABLE_FILES) - {"queries"}
        if unknown:
            raise DataError(f"Unknown shop table(s) {sorted(unknown)}; the tables are "
                            f"{', '.join(TABLE_FILES)}, queries.")
        tables = dict(data)
    else:
        tables = _read_tables(Path(data))
    if tables.get("queries") is not None:  # checked, though no feature reads it yet
        validate_table("queries", tables["queries"])
    return ShopData.from_tables(**{k: v for k, v in tables.items() if k in TABLE_FILES})


def _read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    from ..tables import load_table

    if not folder.is_dir():
        raise DataError(f"{folder} is not a directory of shop tables (orders.csv, events.csv, "
                        "products.csv, customers.csv; CSV, TSV or Parquet).")
    entries = list(folder.iterdir())
    tables, unread = {}, []
    for name in (*TABLE_FILES, "queries"):
        # a file, or a folder of Parquet parts as Spark and Hive write one (orders.parquet/)
        found = sorted(p for p in entries if p.name.lower() in (
            {f"{name}{suffix}" for suffix in TABLE_SUFFIXES} if p.is_file()
            else {name, f"{name}.parquet"}))
        if len(found) > 1:
            raise DataError(f"{folder} holds {len(found)} {name} tables "
                            f"({', '.join(p.name for p in found)}); keep one.")
        if found:
            tables[name] = (load_table(found[0], text=ID_COLUMNS) if found[0].is_file()
                            else _parquet_parts(found[0]))
        unread += [p.name for p in entries if p.name.lower().startswith(name + ".")
                   and p not in found]
    if unread:
        warnings.warn(f"Not read from {folder}: {', '.join(sorted(unread))} (a table is "
                      f"NAME{', NAME'.join(TABLE_SUFFIXES)}).", UserWarning, stacklevel=3)
    if not tables.keys() & {"orders", "events"}:
        raise DataError(f"{folder} holds no orders or events table (orders.csv, events.csv; "
                        "CSV, TSV or Parquet)" + (f"; not read: {', '.join(sorted(unread))}"
                                             if unread else "") + ".")
    return tables


def _parquet_parts(folder: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(folder)
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise DataError(f"Could not read the folder {folder} as Parquet parts: {exc}") from None
