"""Free-text columns (reviews, queries; English, Chinese or mixed) as character n-gram TF-IDF.

Characters, not words, are the unit: Chinese has no spaces between words, and character 1- to
3-grams catch word pieces in any script without a tokenizer or a dictionary. Each text column gets
its own vocabulary of at most ``max_features`` n-grams seen in at least ``min_df`` rows (fewer for
tall tables, so the dense block stays near ``CELL_BUDGET`` cells); the output is dense float32,
L2-normalized per row and column, which trees and linear models take as it is.

Why not skl2onnx's own ``TfidfVectorizer`` converter (measured with skl2onnx 1.20, onnxruntime
1.32):

- ``lowercase=True`` makes it emit ONNX ``StringNormalizer``, which needs the serving host's
  ``en_US.UTF-8`` locale (missing here: onnxruntime fails); its ``locale`` option only moves the
  dependency to another locale that the serving host may lack.
- scikit-learn's ``analyzer="char"`` collapses runs of whitespace to one space and keeps a lone
  ``\\n``; the converter's tokenizer (``tokenexp="."``) keeps every space and drops ``\\n``, so any
  review with a double space or a line break differs (0.12 on one such row).
- word analyzers tokenize differently in ONNX than in scikit-learn (0.58 measured).

So the normalization is defined per code point, where ONNX can reproduce it exactly: every
whitespace character becomes one space (runs are kept), and a character whose Python
``str.lower()`` is a single character is lowercased (all scripts, no locale; the few whose
lowercase is two characters, such as ``İ``, stay as they are). The graph, per column, is
``Tokenizer(tokenexp="(?s).")`` (one token per UTF-8 code point) -> ``LabelEncoder`` (the
per-character folding; characters in no kept n-gram map to a marker that matches nothing) ->
``TfIdfVectorizer`` (raw n-gram counts) -> times idf -> divided by the row's L2 norm. No locale,
no regular expression beyond ``.``, and the same n-grams as the Python side by construction.

The weighting runs in float64 in the graph as in scikit-learn, rounded to float32 once at the
end, so the features agree to the bit (but for a sum's rounding, about 1e-16). That matters:
XGBoost splits at cut points equal to training values, which TF-IDF repeats in many rows, and a
float32 normalization 1e-7 off flipped such splits (0.17 probability difference measured).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer

from automl_guide import FeatureContext, FeatureSpec, hookimpl

CELL_BUDGET = 20_000_000  # dense output cells per text column (80 MB of float32) ...
MIN_FEATURES = 100  # ... but never fewer n-grams than this per column
UNKNOWN = "<unk>"  # what characters outside every n-gram become in ONNX; longer than a character
PAD = "<pad>"  # the tokenizer's padding between rows of different length; matches nothing


_ASCII_SPACE = str.maketrans({c: " " for c in "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"})


def fold(text: str, lowercase: bool = True) -> str:
    """Per code point: whitespace to one space, a single-character lowercase where one exists."""
    if text.isascii():  # the same per code point, at C speed
        text = text.translate(_ASCII_SPACE)
        return text.lower() if lowercase else text
    return "".join(fold_char(c, lowercase) for c in text)


@functools.lru_cache(maxsize=65536)
def fold_char(char: str, lowercase: bool) -> str:
    if char.isspace():
        return " "
    lower = char.lower() if lowercase else char
    return lower if len(lower) == 1 else char


def char_ngrams(text: str, ngram_range: tuple[int, int] = (1, 3), lowercase: bool = True
                ) -> list[str]:
    """The character n-grams of ``fold(text)``, every length in ``ngram_range``."""
    text = fold(text, lowercase)
    low, high = ngram_range
    return [text[i:i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1)]


class CharNgramTfidf(TransformerMixin, BaseEstimator):
    """Character n-gram TF-IDF of each string column, hstacked, dense float32.

    Rows are L2-normalized per column (``idf = ln((1 + n) / (1 + df)) + 1``, scikit-learn's
    smooth idf). An empty or unseen-only text encodes as all zeros.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), max_features: int = 2000,
                 min_df: int = 2, lowercase: bool = True):
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.lowercase = lowercase

    def fit(self, X: Any, y: Any = None) -> "CharNgramTfidf":
        self._fit_columns(X)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).transform(X)`` with one pass over the text per column."""
        return np.hstack([c.toarray() for c in self._fit_columns(X, keep=True)]).astype(
            np.float32)

    def _fit_columns(self, X: Any, keep: bool = False) -> list:
        """Fit one vectorizer per column; with ``keep``, their TF-IDF matrices of ``X``."""
        X = _as_text(X)
        self.n_features_in_ = X.shape[1]
        fitted = [self._fit_column(X[:, j], keep) for j in range(X.shape[1])]
        self.vectorizers_ = [f[0] if keep else f for f in fitted]
        return [f[1] for f in fitted] if keep else []

    def _fit_column(self, docs: np.ndarray, keep: bool = False) -> Any:
        analyzer = functools.partial(char_ngrams, ngram_range=tuple(self.ngram_range),
                                     lowercase=self.lowercase)
        for min_df in dict.fromkeys((self.min_df, 1)):  # tiny data: keep what there is
            vectorizer = TfidfVectorizer(analyzer=analyzer, token_pattern=None, lowercase=False,
                                         max_features=self.max_features, min_df=min_df,
                                         dtype=np.float64)
            try:
                if keep:
                    return vectorizer, vectorizer.fit_transform(docs)
                return vectorizer.fit(docs)
            except ValueError:  # "empty vocabulary" or min_df above the number of rows
                continue
        raise ValueError("a text column has no characters to learn from (all values empty)")

    def transform(self, X: Any) -> np.ndarray:
        X = _as_text(X)
        blocks = [v.transform(X[:, j]).toarray() for j, v in enumerate(self.vectorizers_)]
        return np.hstack(blocks).astype(np.float32)


def _as_text(X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=object)
    X = X.reshape(-1, 1) if X.ndim == 1 else X
    return np.where(X == None, "", X).astype(str).astype(object)  # noqa: E711 (elementwise)


def max_features_for(n_rows: int, n_columns: int) -> int:
    """At most 2000 n-grams per column, fewer for tall tables (see ``CELL_BUDGET``)."""
    return int(np.clip(CELL_BUDGET // max(1, n_rows * n_columns), MIN_FEATURES, 2000))


def _text(columns: list[str], ctx: FeatureContext) -> Any:
    return CharNgramTfidf(max_features=max_features_for(ctx.n_rows, len(columns)))


# --- ONNX (imported and registered by the export stage only) ---------------------------------


def onnx_pool(vectorizer: TfidfVectorizer, high: int) -> tuple[list[str], list[int], list[int]]:
    """``TfIdfVectorizer`` attributes: the n-grams as character tokens, grouped by length
    (``pool_strings``), where each length starts (``ngram_counts``, lengths 1..high) and the
    output column of each (``ngram_indexes``)."""
    by_length: dict[int, list[str]] = {n: [] for n in range(1, high + 1)}
    for gram in vectorizer.vocabulary_:
        by_length[len(gram)].append(gram)
    pool, starts, indexes = [], [], []
    for n in range(1, high + 1):
        starts.append(len(pool))
        for gram in sorted(by_length[n]):
            pool.extend(gram)
            indexes.append(int(vectorizer.vocabulary_[gram]))
    return pool, starts, indexes


def folding_table(characters: set[str], lowercase: bool) -> dict[str, str]:
    """Every code point that :func:`fold` maps to one of ``characters``, and what to."""
    table = {c: c for c in characters}
    for char in _folds_elsewhere(lowercase):
        target = fold_char(char, lowercase)
        if target in characters:
            table[char] = target
    return table


@functools.lru_cache(maxsize=2)
def _folds_elsewhere(lowercase: bool) -> tuple[str, ...]:
    """Code points that :func:`fold` changes (about 1,400 of the 1.1 million)."""
    chars = (chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF)
    return tuple(c for c in chars if fold_char.__wrapped__(c, lowercase) != c)


def _shape_text(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    width = sum(len(v.vocabulary_) for v in operator.raw_operator.vectorizers_)
    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


def _convert_text(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    from automl_guide_plugins._tabular_onnx import Nodes

    nodes, raw = Nodes(scope, container), operator.raw_operator
    blocks = []
    for j, vectorizer in enumerate(raw.vectorizers_):
        column = nodes.op("Gather", [operator.inputs[0].full_name,
                                     nodes.const([j], TensorProto.INT64)], axis=1)
        blocks.append(_column_graph(nodes, column, vectorizer, raw))
    if len(blocks) == 1:
        nodes.op("Identity", blocks, operator.outputs[0].full_name)
    else:
        nodes.op("Concat", blocks, operator.outputs[0].full_name, axis=1)


def _column_graph(nodes: Any, column: str, vectorizer: TfidfVectorizer, raw: CharNgramTfidf
                  ) -> str:
    """[N, 1] strings -> [N, n-grams] float: tokens, folding, counts, idf, L2 norm."""
    from onnx import TensorProto

    high = raw.ngram_range[1]
    pool, starts, indexes = onnx_pool(vectorizer, high)
    tokens = nodes.op("Tokenizer", [column], op_domain="com.microsoft", op_version=1,
                      tokenexp="(?s).", mark=0, mincharnum=1, pad_value=PAD)
    tokens = nodes.op("Flatten", [tokens], axis=1)  # [N, 1, L] -> [N, L]
    table = folding_table(set(pool), raw.lowercase)
    folded = nodes.op("LabelEncoder", [tokens], op_domain="ai.onnx.ml", op_version=2,
                      keys_strings=list(table), values_strings=list(table.values()),
                      default_string=UNKNOWN)
    counts = nodes.op("TfIdfVectorizer", [folded], op_version=9, mode="TF",
                      min_gram_length=raw.ngram_range[0], max_gram_length=high,
                      max_skip_count=0, pool_strings=pool, ngram_counts=starts,
                      ngram_indexes=indexes)
    counts = nodes.op("Cast", [counts], to=TensorProto.DOUBLE)  # whole numbers: exact
    idf = vectorizer.idf_.reshape(1, -1)
    weighted = nodes.op("Mul", [counts, nodes.const(idf)])  # bit for bit scikit-learn's product
    ones = nodes.const(np.ones((idf.shape[1], 1)))
    squares = nodes.op("MatMul", [nodes.op("Mul", [weighted, weighted]), ones])  # any opset
    norm = nodes.op("Max", [nodes.op("Sqrt", [squares]), nodes.const(1e-300)])
    return nodes.op("Cast", [nodes.op("Div", [weighted, norm])], to=TensorProto.FLOAT)


_REGISTERED: list[type] = []


def register_onnx() -> None:
    from skl2onnx import update_registered_converter

    if CharNgramTfidf not in _REGISTERED:
        update_registered_converter(CharNgramTfidf, "AutomlGuideCharNgramTfidf", _shape_text,
                                    _convert_text)
        _REGISTERED.append(CharNgramTfidf)


@hookimpl
def automl_guide_register_features(register):
    register(FeatureSpec("text", frozenset({"text"}), _text, register_onnx=register_onnx,
                         priority=10, description="character 1-3-gram TF-IDF (any script, "
                         "Chinese included), up to 2000 n-grams per column"))
