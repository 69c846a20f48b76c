"""The load stage: a CSV or Parquet file read into a DataFrame, with a clear error for anything
else. A CSV's separator, encoding (charset-normalizer tells one that is not UTF-8), decimal
commas and years are told from the file itself."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .errors import DataError


def load_table(path: str | Path, dates: Sequence[str] = (), text: Sequence[str] = ()
               ) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame with a clear error for anything else. A CSV
    has no types: of the columns named in ``dates`` (a model's datetime columns), one whose
    every value is a whole number from 1000 to 9999 holds years ("2024", as serve reads them),
    not seconds a few minutes after 1970; other numbers stay seconds since the epoch. A CSV
    whose header has no comma may be separated by semicolons, tabs or bars, and then its numbers
    may have a decimal comma (``12,5``), as spreadsheets write them where that is the custom.
    Columns named in ``text`` (ids) are read from a CSV as written: ``0023`` keeps its zeros."""
    if not isinstance(path, (str, os.PathLike)):
        raise DataError(f"Expected a pandas DataFrame or the path of a CSV or Parquet file, got "
                        f"{type(path).__name__}.")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such file: {path}")
    suffixes = "".join(path.suffixes).lower()
    try:
        if ".parquet" in suffixes or suffixes.endswith(".pq"):
            return _parquet(path)
        with _opened(path) as handle:
            sample = handle.read(ENCODING_SAMPLE)
        encoding = _encoding(path, sample)
        sep = _separator(path, sample, encoding)
        read = {"sep": sep, "encoding": encoding}
        header = pd.read_csv(path, nrows=0, header=None, dtype=str, **read).columns
        header = pd.read_csv(path, nrows=1, header=None, dtype=str, **read).iloc[0].tolist() \
            if len(header) else []
        dups = sorted({str(h) for h in header if header.count(h) > 1})
        if dups:  # pandas would rename them to name.1, name.2 silently
            raise DataError(f"Duplicate column name(s) {', '.join(map(repr, dups))} in {path}; "
                            "names must be unique.")
        frame = pd.read_csv(path, dtype={name: str for name in text if name in header}, **read)
        return _years_as_text(frame if sep == "," else _decimal_commas(frame), dates)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: it has no header and no rows.") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not text in an encoding that could be told ({exc.reason} at "
                        f"byte {exc.start} as {exc.encoding}); save it as UTF-8 and try "
                        "again.") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"Could not read {path} as {'Parquet' if 'parquet' in suffixes else 'CSV'}"
                        f": {exc}") from None


ENCODING_SAMPLE = 1 << 20  # bytes read to tell a CSV's encoding
# What a CSV that is not UTF-8 may be: what Excel and other tools write for the shops this is for.
# Left to choose among every encoding, charset-normalizer took short GBK samples for Korean
# (cp949); among these it told GBK, GB18030, Big5, Shift-JIS, UTF-16 and Latin-1 apart.
ENCODINGS = ("utf_16", "utf_32", "gb18030", "big5", "shift_jis", "cp1252", "latin_1")


def _opened(path: Path) -> Any:
    """``path`` opened for bytes, uncompressed (pandas infers the compression from the name, as
    here)."""
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower(), open)
    return opener(path, "rb")


def _encoding(path: Path, sample: bytes) -> str:
    """UTF-8 when ``sample`` (the file's first megabyte) reads as UTF-8; otherwise the encoding of
    :data:`ENCODINGS` that charset-normalizer tells from it (GB18030 for the GBK that Chinese
    shops' Excel writes, UTF-16, Latin-1...), with a warning naming it. UTF-8 when nothing can
    be told: reading then fails with the byte at fault."""
    import codecs

    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=list(ENCODINGS)).best()
    if best is None:
        return "utf-8"
    warnings.warn(f"{path.name} is not UTF-8: read as {best.encoding} (told by "
                  "charset-normalizer).", UserWarning, stacklevel=4)
    return best.encoding


def _separator(path: Path, sample: bytes, encoding: str) -> str:
    """The CSV's field separator: a tab in a ``.tsv``, else a comma, unless the header has none
    and holds semicolons (as spreadsheets write CSV where the decimal mark is a comma), tabs or
    bars."""
    if ".tsv" in (s.lower() for s in path.suffixes):
        return "\t"
    first = sample.split(b"\n", 1)[0].decode(encoding, errors="replace")
    if "," in first:
        return ","
    counts = {sep: first.count(sep) for sep in (";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


# A number written with a decimal comma, its thousands perhaps grouped by dots: 12,5 or 1.234,56
_DECIMAL_COMMA = r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+)(?:,\d+)?"


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """In a CSV not separated by commas (a spreadsheet's, where the decimal mark is a comma), a
    text column whose every value is such a number, one at least with a comma, is numbers."""
    for name in frame.columns:
        if not (frame[name].dtype == object or isinstance(frame[name].dtype, pd.StringDtype)):
            continue
        values = frame[name].dropna()
        if not len(values) or not all(isinstance(v, str) for v in values):
            continue
        text = values.str.strip()
        if text.str.contains(",", regex=False).any() and text.str.fullmatch(_DECIMAL_COMMA).all():
            numbers = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            frame[name] = pd.to_numeric(numbers).reindex(frame.index)
    return frame


def _years_as_text(frame: pd.DataFrame, dates: Sequence[str]) -> pd.DataFrame:
    for name in dates:
        if name not in frame.columns or not pd.api.types.is_numeric_dtype(frame[name].dtype) \
                or pd.api.types.is_bool_dtype(frame[name].dtype):
            continue
        values = frame[name].dropna()
        if len(values) and ((values % 1 == 0) & values.between(1000, 9999)).all():
            frame[name] = frame[name].map(lambda v: None if pd.isna(v) else str(int(v)))
    return frame


def _parquet(path: Path) -> pd.DataFrame:
    """A Parquet file; without pyarrow (the slim install) an error saying what to install."""
    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        if "pyarrow" not in str(exc) and "fastparquet" not in str(exc):
            raise
        raise DataError(f"Reading {path.name} needs pyarrow, which this install lacks: pip "
                        "install pyarrow (or read the file as CSV).") from None
