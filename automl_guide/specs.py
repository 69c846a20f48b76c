"""What plugins register: frozen specs of model, feature and searcher plugins.

A plugin hands one of these to the ``register`` callable its hook receives (see
:mod:`automl_guide.hookspecs`). The core validates each spec at once (every field without a default here is
required, and a missing one is named in the error), so a plugin with a typo fails when it is
loaded, naming itself, and never half-way through a search.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

TASKS = frozenset({"binary", "multiclass", "regression"})
COLUMN_KINDS = frozenset({"numeric", "integer", "boolean", "categorical", "datetime", "text"})


@dataclass(frozen=True)
class ModelSpec:
    """A model family that the search can try.

    :param name: unique name used in ``models=[...]``, leaderboards and model cards.
    :param tasks: the tasks it supports, a subset of ``{"binary", "multiclass", "regression"}``.
    :param build: ``build(config, task, seed) -> estimator``: a scikit-learn-compatible estimator
        (``fit``/``predict``, plus ``predict_proba`` for classification) configured by ``config``,
        whose randomness comes from ``seed``. Classifiers are fitted on labels ``0..K-1``.
    :param search_space: ``search_space(task, n_rows) -> {param: ray.tune domain}``. Called only by
        the search stage, so a plugin imports ``ray.tune`` inside this function, never at import.
    :param default_config: ``default_config(task, n_rows) -> {param: value}``: a strong configuration
        that the search tries before any sampled one.
    :param portfolio: ``portfolio(task, n_rows) -> [{param: value}, ...]``: further strong,
        diverse configurations, tried after every family's default and before the search
        proper, those of the families that are winning first. None: the default alone.
    :param register_onnx: registers skl2onnx converters for estimators skl2onnx does not know
        (``skl2onnx.update_registered_converter``), importing them inside the function; called by
        the export stage only. ``None`` when skl2onnx converts the estimator already. The
        estimator's ``probabilities`` (classification) or ``variable`` (regression) output is
        what the exported graph uses; labels are the arg-max of the probabilities.
    :param needs_scaling: whether numeric features must be standardized for this model (SVM,
        linear); trees get raw values, which keeps ONNX split decisions identical to the native ones.
    :param max_train_rows: fit on at most this many rows (a seeded random subsample), in trials
        and in the refit; for models whose cost grows faster than linearly (SVM). None: all rows.
    :param relative_cost: rough cost of the default configuration relative to XGBoost's (1.0);
        cheaper families' defaults are tried first, so a short budget still sees every family.
    :param fit_stages: ``fit_stages(estimator, X, y, stages) -> iterator`` for iterative models
        (boosting rounds, epochs): trains in up to ``stages`` equal shares of the configured
        iterations, yielding after each, the estimator able to predict between yields. With it,
        a trial reports its validation score after each share and Ray Tune's ASHA scheduler
        can stop a poor trial early. None: the model trains in one go and reports once.
    :param onnx_graph: ``onnx_graph(estimator) -> onnx.ModelProto`` for estimators skl2onnx
        cannot convert (a Keras network): one float input ``[N, n_features]`` (the feature
        plugins' output) and one output, ``probabilities`` ``[N, K]`` over the classes seen in
        training, or the regression value ``[N, 1]``. The export stage composes it after the
        feature graph into one graph. None: the estimator goes through skl2onnx.
    :param uses_gpu: trials may use a GPU. When the user asks for GPUs per trial, this family's
        trials request them from Ray, and :func:`automl_guide.trial_device` tells ``build``
        whether to use ``"cuda"`` or ``"cpu"``.
    :param needs_queries: a learning-to-rank family: its estimator's ``fit(X, y, qid=...)``
        gets one integer query id per row (in the shop's ``rank`` task a query is one customer
        at one cutoff) and learns to order the rows of each query; ``predict_proba``'s last
        column is that order's score. Such a family is tried only in runs that have queries,
        trains in one go (``fit_stages`` is not used) and is left out of ensembles.
    :param description: one line for ``automl-guide plugins``.
    """

    name: str = ""
    tasks: frozenset[str] = frozenset()
    build: Callable[[Mapping[str, Any], str, int], Any] | None = None
    search_space: Callable[[str, int], Mapping[str, Any]] | None = None
    default_config: Callable[[str, int], Mapping[str, Any]] | None = None
    portfolio: Callable[[str, int], Sequence[Mapping[str, Any]]] | None = None
    register_onnx: Callable[[], None] | None = None
    needs_scaling: bool = False
    max_train_rows: int | None = None
    relative_cost: float = 1.0
    fit_stages: Callable[[Any, Any, Any, int], Any] | None = None
    onnx_graph: Callable[[Any], Any] | None = None
    uses_gpu: bool = False
    needs_queries: bool = False
    description: str = ""


@dataclass(frozen=True)
class FeatureContext:
    """What a feature plugin may know when it builds its transformer."""

    task: str
    needs_scaling: bool
    n_rows: int
    seed: int = 0
    #: the integer columns the user declared codes (ids, product numbers: encode by value, not
    #: as a quantity), by the names ``build`` gets; ``None``: the user declared none and the
    #: plugin decides (the built-in one by name)
    codes: frozenset[str] | None = None


@dataclass(frozen=True)
class FeatureSpec:
    """Preprocessing for one or more column kinds, ending up inside the exported ONNX graph.

    :param name: unique name.
    :param kinds: column kinds it handles: ``numeric`` (float), ``integer``, ``boolean``,
        ``categorical``, ``datetime``, ``text``.
    :param build: ``build(columns, context) -> transformer``: a scikit-learn transformer over those
        columns of the coerced frame (see :mod:`automl_guide.columns`) that skl2onnx can convert.
    :param register_onnx: registers skl2onnx converters for any custom transformer ``build`` returns;
        called by the export stage before conversion. ``None`` when skl2onnx knows them all.
    :param priority: for each column kind the highest-priority plugin that handles it wins, so a
        third-party plugin can replace a built-in one by declaring a higher priority.
    """

    name: str = ""
    kinds: frozenset[str] = frozenset()
    build: Callable[[list[str], FeatureContext], Any] | None = None
    register_onnx: Callable[[], None] | None = None
    priority: int = 0
    description: str = ""


SHOP_LEVELS = frozenset({"customer", "product", "pair"})


@dataclass(frozen=True)
class ShopFeatureSpec:
    """Features computed from a shop's history as of a cutoff (see :mod:`automl_guide.shop.history`).

    :param name: unique name; its columns are prefixed by nothing, so choose distinct names
        (the built-ins use ``c_``, ``p_`` and ``x_`` for customer, product and pair features).
    :param level: ``customer``, ``product`` or ``pair`` (customer x candidate product).
    :param compute: ``compute(history, keys) -> DataFrame``: ``history`` is a
        :class:`automl_guide.shop.history.ShopHistory` holding only what happened strictly before its
        ``cutoff``; ``keys`` is a frame of the ids to describe (``customer_id``, ``product_id``
        or both). Returns one row per row of ``keys``, in order, with numeric feature columns
        only (the ids are added back by the caller). Missing values are allowed.
    :param description: one line for ``automl-guide plugins``.
    """

    name: str = ""
    level: str = ""
    compute: Callable[[Any, Any], Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class SearchProblem:
    """What a searcher gets: the space, the goal and the budget."""

    spaces: Mapping[str, Mapping[str, Any]]
    defaults: Mapping[str, Mapping[str, Any]]
    metric: str
    mode: str
    seed: int
    max_trials: int | None
    #: each family's further strong configurations (:attr:`ModelSpec.portfolio`)
    portfolio: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


class FamilyScores:
    """The best finished score of each model family so far, for searchers that favour the
    families that are winning. Scores are kept sign-adjusted, higher always better."""

    def __init__(self, mode: str = "max"):
        self.sign = 1.0 if mode == "max" else -1.0
        self.best: dict[str, float] = {}

    def record(self, family: str | None, result: Mapping[str, Any] | None,
               error: bool = False) -> None:
        """Count a finished trial's ``result`` (``status`` "ok" and a finite ``score``)."""
        if family is None or error or not result or result.get("status", "ok") != "ok":
            return
        try:
            score = self.sign * float(result.get("score", math.nan))
        except (TypeError, ValueError):
            return
        if math.isfinite(score):
            self.best[family] = max(score, self.best.get(family, -math.inf))

    def leading(self, n: int | None = None) -> list[str]:
        """Families with a finished trial, best first (the first ``n``)."""
        return sorted(self.best, key=self.best.get, reverse=True)[:n]


@dataclass(frozen=True)
class SearcherSpec:
    """A search strategy.

    :param name: unique name used in ``searcher=...``.
    :param build: ``build(problem) -> searcher``: an object with ``suggest(trial_id) -> config or
        None`` (``None`` once it has nothing more to propose) and ``on_trial_complete(trial_id,
        result=None, error=False)``, the shape of Ray Tune's ``Searcher``; a real
        ``ray.tune.search.Searcher`` is used as it is. A config is ``{"model": name, **params}``.
    """

    name: str = ""
    build: Callable[[SearchProblem], Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class Registered:
    """A spec together with who registered it, for listings, error messages and model cards."""

    spec: Any
    kind: str
    plugin: str
    distribution: str
    version: str

    @property
    def name(self) -> str:
        return self.spec.name
