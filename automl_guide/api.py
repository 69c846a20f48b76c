"""``fit_and_export``: load -> validate -> features -> search -> select -> refit -> evaluate ->
export -> parity, as small stage functions over frozen values."""
from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Container, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import card as cards
from .columns import coerce_frame, string_names
from .data import Dataset, load_table, prepare, test_split, validation_splits
from .errors import DataError, ExportError, PluginError, SearchError
from .files import write_atomic
from .options import check_options
from .metrics import Metric, get_metric, report
from .pipeline import (build_features, build_model, build_pipeline, feature_plan, fit_params,
                       model_output, train_rows)
from .progress import Progress
from .registry import PluginRegistry, load_registry
from .specs import FeatureContext, ModelSpec, SearchProblem
from .trial import BUDGET_RAN_OUT, Fold, TrialData

ARTIFACTS = ("model.onnx", "model_card.json", "leaderboard.csv", "schema.json",
             "single_best.onnx", "report.html")
RESERVE_FRACTION = 0.1  # of the budget, kept for refit, evaluation and export
ASHA_STAGES = 9  # iterative trials report after each ninth of their rounds/epochs: rungs 1, 3 of 9
# A tie on validation: a completed trial within this many of the best's standard errors
# (score_se) of its score, that predicts at least TIE_SPEEDUP times faster, is chosen over it.
TIE_SE = 0.1
TIE_SPEEDUP = 2.0


@dataclass(frozen=True)
class FitConfig:
    """Every option of a run; the CLI builds the same object."""

    target: str
    task: str | None = None
    time_budget: float | None = 60.0
    max_trials: int | None = None
    models: tuple[str, ...] | None = None
    searcher: str = "random"
    metric: str | None = None
    out: Path | None = Path("automl_guide_run")
    seed: int = 0
    validation: str = "auto"
    folds: int = 5
    test_size: float = 0.2
    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    scheduler: str = "none"
    trial_time_limit: float | None = None
    schema: Any = None
    overwrite: bool = False
    quiet: bool = False
    resume: bool = False
    ensemble: bool = True
    max_predict_us: float | None = None
    codes: tuple[str, ...] | None = None


@dataclass
class FitResult:
    """What a run produced. ``predict`` goes through onnxruntime and the exported graph."""

    leaderboard: pd.DataFrame
    model: Any
    onnx_path: Path | None
    card: dict[str, Any]
    onnx_bytes: bytes = field(repr=False, default=b"")

    @property
    def predictor(self):
        if not hasattr(self, "_predictor"):
            from .predictor import Predictor

            self._predictor = Predictor(self.onnx_bytes, "the exported model")
        return self._predictor

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_predictor", None)  # an onnxruntime session: rebuilt from onnx_bytes on use
        return state

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predictor.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predictor.predict_proba(frame)


def fit_and_export(data: pd.DataFrame | str | os.PathLike, target: str, *, task: str | None = None,
                   time_budget: float | None = 60.0, max_trials: int | None = None,
                   models: Sequence[str] | None = None, searcher: str = "random",
                   metric: str | None = None, out: str | os.PathLike | None = "automl_guide_run",
                   seed: int = 0, validation: str = "auto", folds: int = 5,
                   test_size: float = 0.2, address: str | None = None,
                   cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
                   scheduler: str = "none", trial_time_limit: float | None = None,
                   schema: Any = None, overwrite: bool = False, quiet: bool = False,
                   resume: bool = False, ensemble: bool = True,
                   max_predict_us: float | None = None, codes: Sequence[str] | None = None,
                   plugins: Iterable[Any] = ()) -> FitResult:
    """Search model families with Ray Tune, refit the best and export it as one ONNX graph.

    :param data: a DataFrame, or the path of a CSV or Parquet file.
    :param target: the column to predict.
    :param task: ``binary``, ``multiclass`` or ``regression``; inferred from the target if None.
    :param time_budget: seconds for the whole run (Ray start, refit and export included).
    :param max_trials: stop after this many trials (with ``time_budget``, whichever comes first).
    :param models: model plugin names to try; all that support the task when None.
    :param searcher: searcher plugin name (``random``, ``grid``, ``tpe``, ``evolution`` or a
        third-party one).
    :param metric: metric to optimise; ROC AUC, log loss or RMSE by task when None.
    :param out: directory for ``model.onnx``, ``model_card.json`` and ``leaderboard.csv``; None
        keeps everything in memory. A directory already holding a run's files (model.onnx,
        leaderboard.csv, ...) needs ``overwrite=True``; other files there are left alone.
    :param seed: seeds the splits, the searcher and the models.
    :param validation: ``auto`` (k-fold CV up to 3,000 rows, else a 20 % holdout), ``cv`` or
        ``holdout``; ``folds`` sets k.
    :param test_size: share of rows held out before the search for the final test metrics; 0
        when you test on data of your own: every row then trains the exported model, the card
        has no test metrics, and parity is checked on (up to 2,000) training rows.
    :param address: a Ray cluster to join (else ``RAY_ADDRESS``, else a local Ray).
    :param cpus_per_trial: CPUs each trial reserves; as many trials run at once as fit.
    :param gpus_per_trial: GPUs each trial of a GPU-capable family (XGBoost, ANN) reserves;
        such trials run on CUDA where it works and fall back to the CPU with a warning.
    :param scheduler: ``none``, or ``asha`` to stop poor trials of iterative families (XGBoost
        rounds, ANN epochs) early with Ray Tune's ASHA scheduler.
    :param trial_time_limit: seconds after which a trial is stopped and recorded as ``timeout``;
        None: half the search time when there is a ``time_budget``.
    :param schema: a pandera ``DataFrameSchema`` (or the path of its JSON/YAML) that the raw
        table must satisfy; checked lazily before anything else, every failure in one error.
    :param resume: continue the search of a run in ``out`` that was interrupted (Ctrl-C): its
        trials and its searcher's state are kept in ``out/.search``; the options (``target``
        included, which may then be None) are the interrupted run's, the budget is new.
    :param ensemble: export a weighted ensemble of the best trial of each family (greedy
        selection on validation outputs, one ONNX graph) when it beats the best single trial on
        validation and the budget leaves time to refit its members; the single best model is
        then written too, as ``single_best.onnx``.
    :param max_predict_us: a prediction-time limit, like FLAML's ``pred_time_limit`` and
        AutoGluon's ``infer_limit``: only a trial whose model predicted its validation rows in
        at most this many microseconds per row (the leaderboard's ``predict_us``, measured in
        the trial) can be exported, and an ensemble only when its members' times add up to no
        more. The leaderboard keeps every trial; when none is fast enough, the fastest is
        exported with a warning. None: no limit.
    :param codes: integer columns that are codes (ids, product or store numbers) whatever
        their names: each gets its value's share of the rows and its target mean as features,
        however few values it has. None: integer columns whose names mark an identifier (a
        word ``id``, ``code`` or ``sku``: ``user_id``, ``ClothingID``) and have more than 20
        values; ``[]``: none. A
        single name may be given as a string.
    :param plugins: extra plugin objects registered in-process beside the installed ones.
    """
    config = FitConfig(target, task, time_budget, max_trials, tuple(models) if models else None,
                       searcher, metric, Path(out) if out is not None else None, seed, validation,
                       folds, test_size, address, cpus_per_trial, gpus_per_trial, scheduler,
                       trial_time_limit, schema, overwrite, quiet, resume, ensemble,
                       max_predict_us,
                       None if codes is None else (codes,) if isinstance(codes, str) else
                       tuple(codes))
    return run(data, config, load_registry(plugins))


def run(data: pd.DataFrame | str | os.PathLike, config: FitConfig,
        registry: PluginRegistry, groups: np.ndarray | None = None,
        queries: np.ndarray | None = None) -> FitResult:
    """The stages of :func:`fit_and_export`. ``groups`` (one value per row, e.g. customer ids)
    keeps each group's rows together in the test split and in every validation split.
    ``queries`` (one integer per row, e.g. a customer at a cutoff) are what ranking families
    (``ModelSpec.needs_queries``) order rows within, and what a ranking metric (``ndcg@K``)
    judges; without them those families sit out."""
    start = time.monotonic()
    config = check_options(config, registry)
    deadline = start + config.time_budget if config.time_budget else None
    frame = data if isinstance(data, pd.DataFrame) else load_table(data)
    frame = string_names(frame)
    if config.resume:
        config = _resumed_config(config, frame)
    elif config.out is not None:
        _check_out_dir(config.out, config.overwrite)
        shutil.rmtree(config.out / STATE_DIR, ignore_errors=True)
    if config.schema is not None:
        from .schema import load_user_schema, validate_training

        validate_training(frame, load_user_schema(config.schema))
    dataset = prepare(frame, config.target, config.task, config.codes)
    for name, values in (("groups", groups), ("queries", queries)):
        if values is not None and len(values) != len(dataset.y):
            raise DataError(f"{name} has {len(values)} values for {len(dataset.y)} rows.")
    metric = get_metric(config.metric, dataset.task)
    if metric.needs_queries and queries is None:
        raise DataError(f"The metric {metric.name} judges the order within queries; it needs "
                        "the shop's rank task (fit_shop), which knows them.")
    specs = _model_specs(registry, config.models, dataset.task, queries is not None)
    progress = Progress(metric, deadline, config.quiet)
    train, test = test_split(dataset.y, dataset.task, config.test_size, config.seed, groups)
    splits = validation_splits(dataset.y[train], dataset.task, config.validation, config.folds,
                               config.seed, None if groups is None else np.asarray(groups)[train])
    plan = feature_plan(registry, dataset.columns)
    trial_data = _trial_data(dataset, train, splits, plan, specs, metric, config.seed,
                             ASHA_STAGES if config.scheduler == "asha" else 1, queries)
    n_fit = len(trial_data.folds[next(iter(trial_data.folds))][0].y_train)
    specs, spaces, defaults = _searchable(specs, dataset.task, n_fit)
    progress.say(f"automl-guide: {dataset.task} on {len(dataset.y)} rows x "
                 f"{len(dataset.columns)} columns; {len(specs)} model "
                 f"{'family' if len(specs) == 1 else 'families'}; "
                 f"{len(splits)}-split validation; metric {metric.name}")
    if config.out is not None and not config.resume:
        _save_run_options(config, frame)
    outputs: dict[str, np.ndarray] = {}  # the best trial of each family's validation outputs
    try:
        records = _search(trial_data, specs, (spaces, defaults), registry, config, metric,
                          deadline, progress, outputs)
    except KeyboardInterrupt as exc:  # Ctrl-C: keep what was found
        board = leaderboard(getattr(exc, "records", []), metric)
        if config.out is not None:
            write_atomic(config.out / "leaderboard.csv", board.to_csv(index=False).encode())
            resume = ""
            if getattr(exc, "searcher", None) is not None:
                from . import search

                search.save_state(config.out / STATE_DIR, exc)
                resume = f"; continue with `automl-guide fit DATA --resume {config.out}`"
            progress.say(f"Interrupted: the {len(board)} trials so far are in "
                         f"{config.out / 'leaderboard.csv'}{resume}")
        raise
    board = leaderboard(records, metric)
    if not board["status"].isin(["ok", "error"]).any() and (
            board.empty or (board["error"] == BUDGET_RAN_OUT).any()):  # before any trial ended
        records = list(records) + [_fallback_trial(trial_data, specs, defaults, progress)]
        board = leaderboard(records, metric)
    try:
        order = _ties_to_faster(board, metric)  # the leaderboard, in the order trials are chosen
        best = _best(order, config.max_predict_us)  # raises unless a trial succeeded
        if best["rank"] > 1:
            progress.say(_why_not_first(board, best["rank"], metric, config.max_predict_us))
        not_exported: list[dict[str, Any]] = []  # trials whose export failed, in rank order
        refits: dict[str, Any] = {}  # each trial is refitted once, whichever export fails

        def refit(model: str, params: Mapping[str, Any]) -> Any:
            key = _trial_key(model, params)
            if key not in refits:
                refits[key] = _refit(dataset, train, plan, specs[model], params, config.seed,
                                     queries)
            return refits[key]

        left_out: set[str] = set()  # ensemble members whose export failed
        converted: dict[int, tuple] = {}  # refits' graphs, converted once (see _finish)
        ensembles = config.ensemble and not metric.needs_queries
        while True:
            chosen = None  # an ensemble led by `best`, of families whose export has not failed
            if ensembles:
                failed = {f["model"] for f in not_exported} | left_out
                chosen = _choose_ensemble(order[~order["model"].isin(failed)], trial_data,
                                          specs, metric, deadline, progress, outputs,
                                          config.max_predict_us, refitted=refits)
            pipeline = refit(best["model"], best["config"])
            members = None
            if chosen is not None:
                members = [(m, refit(m.model, m.config)) for m in chosen[0]]
            try:
                return _finish(dataset, train, test, splits, plan, specs, registry, pipeline,
                               board, metric, config, start, progress, members, chosen,
                               best["rank"], not_exported, converted)
            except _NotExported as failure:  # unconvertible, or parity failed: the next family
                exc = failure.error
                if failure.member is not None:  # a member, not the best: an ensemble without it
                    left_out.add(failure.member)
                    ensembles = failure.member != best["model"]  # else the best alone
                    progress.say(f"Ensemble member {failure.member} did not export ({exc}); " + (
                        "choosing the ensemble again without it." if ensembles else
                        "exporting the best model alone."))
                    continue
                not_exported.append({"rank": best["rank"], "model": best["model"],
                                     "error": str(exc)})
                try:
                    following = _best(order, config.max_predict_us,
                                      {f["model"] for f in not_exported})
                except SearchError:  # no other family: every failure in one error
                    raise _nothing_exported(not_exported, config) from exc
                warnings.warn(f"The {best['model']} trial ranked {best['rank']} did not export "
                              f"({exc}); exporting the best trial of another family instead: "
                              f"{following['model']}, ranked {following['rank']}.",
                              RuntimeWarning, stacklevel=2)
                best = following
    except Exception as exc:
        if config.out is not None:  # nothing is lost: the leaderboard survives a failed export
            write_atomic(config.out / "leaderboard.csv", board.to_csv(index=False).encode())
            shutil.rmtree(config.out / STATE_DIR, ignore_errors=True)  # a search that ended
        if isinstance(exc, ExportError):
            exc.leaderboard = board
        raise


def _nothing_exported(failures: Sequence[Mapping[str, Any]], config: FitConfig) -> ExportError:
    """One error for a run whose every family's best trial failed to export: what failed and
    why, where the leaderboard is, and what to try."""
    def line(failure: Mapping[str, Any]) -> str:
        return " ".join(str(failure["error"]).split())  # converters' messages span lines

    if len(failures) == 1:
        [failure] = failures
        what = (f"The {failure['model']} model (its best trial ranked {failure['rank']}) could "
                f"not be exported as ONNX: {line(failure).rstrip('.')}.")
    else:
        what = "No family's best trial exported:\n  - " + "\n  - ".join(
            f"{f['model']} (rank {f['rank']}): {line(f)}" for f in failures) + "\n"
    kept = (f"The leaderboard is in {config.out / 'leaderboard.csv'}." if config.out is not None
            else "The leaderboard is on this error's `leaderboard` attribute.")
    others = ("other model families with --models (models= in Python), or every family by "
              "leaving it out" if config.models else "other model families with --models")
    return ExportError(f"{what} {kept} Try {others}; `automl-guide plugins` lists the families "
                       "and the package each comes from, whose author can mend its export.")


class _NotExported(Exception):
    """The chosen trial's model did not convert to ONNX or failed parity (``error``): the run
    exports the best trial of another family instead; or, with ``member``, that ensemble
    member's did, and the run chooses the ensemble again without that family."""

    def __init__(self, error: ExportError, member: str | None = None):
        super().__init__(str(error))
        self.error, self.member = error, member


STATE_DIR = ".search"  # an interrupted search's options, trials and searcher state
_RESUMED_OPTIONS = ("target", "task", "max_trials", "models", "searcher", "metric", "seed",
                    "validation", "folds", "test_size", "cpus_per_trial", "gpus_per_trial",
                    "scheduler", "trial_time_limit", "codes")


def _save_run_options(config: FitConfig, frame: pd.DataFrame) -> None:
    options = {k: getattr(config, k) for k in _RESUMED_OPTIONS}
    for key in ("models", "codes"):
        options[key] = list(options[key]) if options[key] is not None else None
    options["data_fingerprint"] = cards.data_fingerprint(frame)
    write_atomic(config.out / STATE_DIR / "run.json", json.dumps(options, indent=1).encode())


def _resumed_config(config: FitConfig, frame: pd.DataFrame) -> FitConfig:
    """The interrupted run's options, with this call's budget (its time budget, and its
    ``max_trials`` when given: the trials of both runs together); the data must be the same."""
    if config.out is None:
        raise SearchError("resume needs the directory of the interrupted run (--resume DIR).")
    path = config.out / STATE_DIR / "run.json"
    if not path.is_file() or not (config.out / STATE_DIR / "searcher.pkl").is_file():
        raise SearchError(f"{config.out} holds no interrupted search to resume (no "
                          f"{STATE_DIR}/ with the searcher's state).")
    options = json.loads(path.read_text())
    if options.pop("data_fingerprint") != cards.data_fingerprint(frame):
        raise DataError(f"The data differs from the data of the interrupted run in {config.out};"
                        " resume with the same file.")
    for key in ("models", "codes"):
        options[key] = tuple(options[key]) if options.get(key) is not None else None
    if config.max_trials is not None:
        options["max_trials"] = config.max_trials
    return replace(config, **options)


def _check_out_dir(out: Path, overwrite: bool) -> None:
    existing = [name for name in ARTIFACTS if (out / name).exists()]
    if existing and not overwrite:
        raise ExportError(f"{out} already holds {', '.join(existing)}; choose another --out or "
                          "pass --overwrite to replace them.")


def _model_specs(registry: PluginRegistry, names: Sequence[str] | None, task: str,
                 ranking: bool = False) -> dict[str, ModelSpec]:
    if names:
        specs = {name: registry.model(name) for name in names}
        unfit = [n for n, s in specs.items() if task not in s.tasks]
        if unfit:
            raise PluginError(f"Model plugin(s) {', '.join(unfit)} do not support {task} tasks.")
        rankers = [n for n, s in specs.items() if s.needs_queries and not ranking]
        if rankers:
            raise PluginError(f"Model plugin(s) {', '.join(rankers)} rank the rows of a query "
                              "and run only in the shop's rank task.")
        return specs
    specs = {r.name: r.spec for r in sorted(registry.models.values(),
                                            key=lambda r: r.spec.relative_cost)
             if task in r.spec.tasks and (ranking or not r.spec.needs_queries)}
    if not specs:
        raise PluginError(f"No registered model plugin supports {task} tasks.")
    return specs


def _trial_data(dataset: Dataset, train: np.ndarray, splits: Sequence, plan: Mapping,
                specs: Mapping[str, ModelSpec], metric: Metric, seed: int,
                stages: int = 1, queries: np.ndarray | None = None) -> TrialData:
    typed = coerce_frame(dataset.features.iloc[train], dataset.columns)
    y = dataset.y[train]
    q = None if queries is None else np.asarray(queries)[train]
    variants = sorted({spec.needs_scaling for spec in specs.values()})
    folds: dict[bool, list[Fold]] = {scaled: [] for scaled in variants}
    for fit_rows, val_rows in splits:
        fit_part, val_part = typed.iloc[fit_rows], typed.iloc[val_rows]
        done: list[tuple[list, Any, tuple]] = []  # (columns, transformer, outputs)
        for scaled in variants:
            ctx = FeatureContext(dataset.task, scaled, len(fit_rows), seed, dataset.codes)
            blocks = []
            # what build_features' ColumnTransformer computes, block by block, so that a
            # plugin whose transformer does not depend on scaling (text) is fitted once for
            # both variants
            for _, transformer, cols in build_features(plan, ctx).transformers:
                same = next((out for on, other, out in done
                             if on == cols and same_estimator(other, transformer)), None)
                if same is None:
                    same = (_dense(transformer.fit_transform(fit_part[cols], y[fit_rows])),
                            _dense(transformer.transform(val_part[cols])))
                    done.append((cols, transformer, same))
                blocks.append(same)
            folds[scaled].append(Fold(np.hstack([b[0] for b in blocks]), y[fit_rows],
                                      np.hstack([b[1] for b in blocks]), y[val_rows],
                                      None if q is None else q[fit_rows],
                                      None if q is None else q[val_rows]))
    return TrialData(folds, dict(specs), dataset.task, dataset.classes, metric, seed, stages)


def _dense(values: Any) -> np.ndarray:
    values = values.toarray() if hasattr(values, "toarray") else values
    return np.asarray(values, dtype=np.float32).reshape(len(values), -1)


def same_estimator(a: Any, b: Any) -> bool:
    """Whether two unfitted scikit-learn estimators are configured alike (same classes, same
    parameters all the way down), so that fitting one stands for fitting the other."""
    if type(a) is not type(b):
        return False
    if not hasattr(a, "get_params"):
        return _same_value(a, b)
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    return pa.keys() == pb.keys() and all(_same_value(pa[k], pb[k]) for k in pa)


def _same_value(a: Any, b: Any) -> bool:
    if hasattr(a, "get_params"):
        return same_estimator(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _same_value(x, z) for x, z in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            _same_value(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - objects that cannot compare are not the same
        return False


def _searchable(specs: Mapping[str, ModelSpec], task: str, n_rows: int
                ) -> tuple[dict[str, ModelSpec], dict[str, dict], dict[str, dict]]:
    """The families whose search space and default configuration can be built, with those
    (by family name): a plugin whose ``search_space`` or ``default_config`` fails sits out the
    run, with a warning naming it, and the other families go on; when none is left, one error
    names every failure."""
    usable, spaces, defaults, failures = {}, {}, {}, []
    for name, spec in specs.items():
        try:
            space = dict(spec.search_space(task, n_rows))
            default = dict(spec.default_config(task, n_rows))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not end the run
            failures.append(f"model plugin {name!r}: its search_space or default_config failed "
                            f"({type(exc).__name__}: {exc})")
            continue
        usable[name], spaces[name], defaults[name] = spec, space, default
    if failures and not usable:
        raise PluginError("No model family can be searched: " + "; ".join(failures) + ".")
    for failure in failures:
        warnings.warn(f"{failure[0].upper()}{failure[1:]}; the family sits out this run.",
                      RuntimeWarning, stacklevel=3)
    return usable, spaces, defaults


def _portfolio(spec: ModelSpec, task: str, n_rows: int) -> list[dict[str, Any]]:
    """A family's further strong configurations; a plugin whose portfolio fails or is not a list
    of dicts loses its portfolio, with a warning naming it, and the run goes on."""
    if spec.portfolio is None:
        return []
    try:
        configs = [dict(c) for c in spec.portfolio(task, n_rows)]
    except Exception as exc:  # noqa: BLE001 - a plugin's bug must not end the run
        warnings.warn(f"Model plugin {spec.name!r}: its portfolio failed ({exc!r}); only its "
                      "default and the search are tried.", RuntimeWarning, stacklevel=2)
        return []
    return configs


def _search(data: TrialData, specs: Mapping[str, ModelSpec],
            spaces_and_defaults: tuple[Mapping[str, dict], Mapping[str, dict]],
            registry: PluginRegistry, config: FitConfig, metric: Metric, deadline: float | None,
            progress: Progress, outputs: dict[str, np.ndarray] | None = None) -> list:
    """The search's trials (an interrupted run's first, when resuming), over the families of
    ``specs`` with their spaces and defaults from :func:`_searchable`; ``outputs`` receives the
    validation outputs of the best trial of each family, by trial id."""
    from . import search  # the search stage's ray (the spaces just built imported ray.tune)

    n_rows = len(data.folds[next(iter(data.folds))][0].y_train)
    spaces, defaults = spaces_and_defaults
    problem = SearchProblem(
        spaces=dict(spaces), defaults=dict(defaults), metric=metric.name, mode=metric.mode,
        seed=config.seed, max_trials=config.max_trials,
        portfolio={n: _portfolio(s, data.task, n_rows) for n, s in specs.items()})
    earlier: list = []
    untold: list = []  # driver trials of the interrupted run that its searcher has not proposed
    if config.resume:  # go on with the interrupted run's searcher and trials
        earlier, searcher, untold = search.load_state(config.out / STATE_DIR)
        progress.say(f"Resuming: {len(earlier)} trials done before the interruption")
    else:
        searcher = registry.searcher(config.searcher).build(problem)
    began, done = time.monotonic(), []
    try:  # a Ray Tune Searcher would not be told of a trial run here: it would run it again
        if (deadline is not None and config.max_trials is None and not config.resume
                and not search.ray.is_initialized()
                and not isinstance(searcher, search.Searcher)):
            done = _first_trial(data, specs, defaults)
        search.ensure_ray(config.address)
    except KeyboardInterrupt:  # Ctrl-C before the search: what ran is kept, and can resume
        raise search.SearchInterrupted(earlier + search.driver_records(done, began),
                                       searcher, untold + done) from None
    search_deadline, trial_limit = None, config.trial_time_limit
    if deadline is not None:
        search_deadline = deadline - max(3.0, RESERVE_FRACTION * config.time_budget)
        seconds = search_deadline - time.monotonic()
        trial_limit = trial_limit or max(5.0, seconds / 2)
        progress.say(f"Ray ready; searching for {seconds:.0f} s with {config.searcher!r}"
                     f"{' and ASHA' if config.scheduler == 'asha' else ''}")
    n_splits = len(data.folds[next(iter(data.folds))])
    max_trials = config.max_trials
    if max_trials is not None and earlier:
        max_trials = max(1, max_trials - len(earlier))
    try:
        records = search.run_search(
            data, searcher, deadline=search_deadline, max_trials=max_trials,
            cpus_per_trial=config.cpus_per_trial, gpus_per_trial=config.gpus_per_trial,
            scheduler=config.scheduler, mode=metric.mode, trial_time_limit=trial_limit,
            reserve=lambda records: _refit_reserve(earlier + records, metric, n_splits),
            on_record=progress.trial, outputs=outputs, done=done, start=began, told=untold)
    except search.SearchInterrupted as exc:
        exc.records = earlier + exc.records
        raise
    return earlier + records


FIRST_TRIAL_MAX_COST = 0.2  # relative_cost up to the decision tree's: a second or so


def _first_trial(data: TrialData, specs: Mapping[str, ModelSpec], defaults: Mapping[str, dict]
                 ) -> list[tuple[dict[str, Any], dict]]:
    """The cheapest family's default configuration (every searcher's first proposal), fitted
    in this process before Ray starts, as [(config, evaluate_config's result)]; empty unless
    that family is cheap (the linear model, the decision tree): a fit here cannot be stopped at
    the budget as a Ray trial is. Ray's start-up (5-8 s on two cores) and its first trials'
    imports (as long again) are most of a short budget: this way the run has a model within
    seconds, and the search starts from it rather than running it again.
    Not in a thread beside ray.init: Ray forks its processes, and a fork while another thread
    is in OpenBLAS deadlocks."""
    from .trial import evaluate_config

    name, config = _cheapest_default(specs, defaults)
    if specs[name].relative_cost > FIRST_TRIAL_MAX_COST:
        return []
    return [(config, evaluate_config(config, data))]


def _cheapest_default(specs: Mapping[str, ModelSpec], defaults: Mapping[str, dict]
                      ) -> tuple[str, dict[str, Any]]:
    """The family with the lowest ``relative_cost`` and its default configuration (with
    ``model``): the searchers' first proposal, and the fallback when no trial finished."""
    name = min(specs, key=lambda n: specs[n].relative_cost)
    return name, {"model": name, **defaults[name]}


def _refit_reserve(records: Sequence, metric: Metric, n_splits: int) -> float:
    """Seconds to keep for refitting the best trial so far on all training rows and exporting
    it: about twice one split's fit (more rows, ONNX conversion, parity)."""
    ok = [r for r in records if r.status == "ok" and math.isfinite(r.score)]
    if not ok:
        return 0.0
    best = ok[0]
    for record in ok[1:]:
        if metric.better(record.score, best.score):
            best = record
    return 2.0 * best.fit_seconds / n_splits


def leaderboard(records: Sequence, metric: Metric) -> pd.DataFrame:
    """Trials best first (failed ones last, with their error)."""
    rows = [{"model": r.model, metric.name: r.score, "status": r.status,
             "early_stopped": bool(r.early_stopped),
             "fit_seconds": round(r.fit_seconds, 3), "finished_at_s": round(r.finished_at, 2),
             "score_se": r.score_se, "predict_us": round(r.predict_us, 3),
             "config": json.dumps(dict(r.config), sort_keys=True, default=str),
             "error": r.error, "node": r.node, "trial_id": r.trial_id} for r in records]
    columns = ["model", metric.name, "status", "early_stopped", "fit_seconds", "finished_at_s",
               "score_se", "predict_us", "config", "error", "node", "trial_id"]
    board = pd.DataFrame(rows, columns=columns).astype({"early_stopped": bool})
    ok = (board["status"] == "ok") & np.isfinite(board[metric.name].astype(float))
    key = board[metric.name].astype(float) * (-1 if metric.mode == "max" else 1)
    # Completed trials first: an early-stopped trial's score is that of a partly trained model.
    board = board.assign(_failed=~ok, _key=key.where(ok, np.inf))
    board = board.sort_values(["_failed", "early_stopped", "_key", "finished_at_s"],
                              kind="stable")
    board = board.drop(columns=["_failed", "_key"]).reset_index(drop=True)
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board


def _fallback_trial(data: TrialData, specs: Mapping[str, ModelSpec],
                    defaults: Mapping[str, dict], progress: Progress) -> Any:
    """When no trial finished within the budget (preparing large data took it, or Ray's
    start-up did): the cheapest family's default, fitted here, so the run still gives a model."""
    from .search import TrialRecord
    from .trial import evaluate_config

    name, config = _cheapest_default(specs, defaults)
    warnings.warn(f"No trial finished within the time budget; fitting the default {name} "
                  "configuration in this process instead (the run takes longer than its "
                  "budget). Raise --time-budget for a real search.", RuntimeWarning, stacklevel=3)
    progress.say(f"No trial finished in time: fitting the default {name} here")
    row = evaluate_config(config, data)
    return TrialRecord("fallback", name, {k: v for k, v in config.items() if k != "model"},
                       row["score"], row["status"], row["error"], row["fit_seconds"])


def _ties_to_faster(board: pd.DataFrame, metric: Metric) -> pd.DataFrame:
    """The leaderboard in the order trials are chosen for export: by score, except that the
    fastest completed trial whose validation score is within ``TIE_SE`` of the first's standard
    error, if it predicts at least ``TIE_SPEEDUP`` times faster per row, goes first. Scores that
    close are the same score measured twice (the 1-SE rule, which goes further, lost accuracy
    here); a graph that answers in half the time is not. Without a standard error (ranking
    metrics) or prediction times, the order is the leaderboard's."""
    done = board[(board["status"] == "ok") & ~board["early_stopped"].astype(bool)]
    if len(done) < 2:
        return board
    first = done.iloc[0]
    scores = done[metric.name].astype(float)
    near = done[(scores - float(first[metric.name])).abs() <= TIE_SE * float(first["score_se"])]
    micros = near["predict_us"].astype(float)
    if micros.isna().all() or not np.isfinite(float(first["predict_us"])):
        return board
    fastest = micros.idxmin()
    if micros[fastest] * TIE_SPEEDUP > float(first["predict_us"]):
        return board
    return pd.concat([board.loc[[fastest]], board.drop(index=fastest)])


def _why_not_first(board: pd.DataFrame, rank: int, metric: Metric,
                   max_predict_us: float | None) -> str:
    """Why the trial ranked ``rank`` (not the first) is the one exported."""
    first, picked = board.iloc[0], board.iloc[rank - 1]
    why = (f"Within max_predict_us={max_predict_us:g}" if max_predict_us is not None and
           not first["predict_us"] <= max_predict_us else
           f"A tie on validation {metric.name} (within {TIE_SE:g} of a standard error of the "
           f"first, which takes {first['predict_us']:g} us per row)")
    return (f"{why}: exporting the trial ranked {rank} ({picked['model']}, "
            f"{picked['predict_us']:g} us per row)")


def _best(board: pd.DataFrame, max_predict_us: float | None = None,
          skip: Iterable[str] = ()) -> dict[str, Any]:
    """The best trial that succeeded (its model, config and leaderboard rank), among those
    that predict within ``max_predict_us`` per row when that is set, and not of a family in
    ``skip`` (families whose export failed)."""
    ok = board[(board["status"] == "ok") & ~board["model"].isin(list(skip))]
    if ok.empty:
        errors = "; ".join(f"{m}: {e}" for m, e in
                           board[["model", "error"]].drop_duplicates("model").values[:5])
        raise SearchError(f"No trial succeeded ({len(board)} ran). "
                          f"{errors or 'Raise --time-budget so that at least one can finish.'}")
    row = ok.iloc[0]
    if max_predict_us is not None:
        fast = ok[ok["predict_us"] <= max_predict_us]
        if fast.empty:
            row = ok.loc[ok["predict_us"].fillna(np.inf).idxmin()]
            warnings.warn(f"No trial predicts within max_predict_us={max_predict_us:g} us per "
                          f"row; exporting the fastest, {row['model']} (rank {row['rank']}, "
                          f"{row['predict_us']:g} us).", RuntimeWarning, stacklevel=3)
        else:
            row = fast.iloc[0]
    return {"model": row["model"], "config": json.loads(row["config"]), "rank": int(row["rank"])}


def _trial_key(model: str, params: Mapping[str, Any]) -> str:
    return json.dumps([model, params], sort_keys=True, default=str)


def _choose_ensemble(board: pd.DataFrame, data: TrialData, specs: Mapping[str, ModelSpec],
                     metric: Metric, deadline: float | None, progress: Progress,
                     known: Mapping[str, np.ndarray] | None = None,
                     max_predict_us: float | None = None,
                     refitted: Container[str] = frozenset()) -> Any:
    """(members, weights, validation score, best single's score) when an ensemble of the best
    trial of each family beats the best single trial on validation; None otherwise (one family,
    no time to refit the members, or no gain). Members' validation outputs come from ``known``
    (by trial id, sent back by the trials) or, missing there, from fitting them again. With
    ``max_predict_us``, members are only trials within it, and together they stay within it.
    Members already refitted on all training rows (their :func:`_trial_key` in ``refitted``,
    after an export failed) cost no refit time."""
    from . import ensemble

    if max_predict_us is not None:
        board = board[board["predict_us"] <= max_predict_us]
    rows = board.drop_duplicates("model").set_index("model")
    seconds = rows["fit_seconds"]
    members, cost, latency = [], 0.0, 0.0
    candidates = ensemble.candidates(board, specs)
    if len(candidates) < 2 or candidates[0].model != _best(board)["model"]:
        return None  # the best trial cannot be a member (a ranker): nothing to build on
    n_splits = len(data.folds[next(iter(data.folds))])
    for member in candidates:  # best families first, while time allows
        # the refit on all training rows (one split's fit, a little more), and the validation
        # fits when the trial's outputs are not known
        trial = float(seconds[member.model])
        more = (0.0 if _trial_key(member.model, member.config) in refitted
                else 1.5 * trial / n_splits) + (0.0 if known and member.trial_id in known
                                                 else trial)
        if deadline is not None and time.monotonic() + cost + more + 5.0 > deadline:
            break  # never skip a better family for a cheaper one: the best must lead
        micros = 0.0
        if max_predict_us is not None:
            micros = float(rows.loc[member.model, "predict_us"])
            if latency + micros > max_predict_us:
                break  # the members' prediction times add up
        members.append(member)
        cost, latency = cost + more, latency + micros
    if len(members) < 2:
        if deadline is not None:
            progress.say("No ensemble: the budget left is too short to refit its members.")
        return None
    outputs, y = ensemble.validation_outputs(members, data, known)
    weights, score = ensemble.greedy_weights(outputs, y, metric)
    single = float(metric.fn(y, outputs[0]))
    used = weights > 0
    if used.sum() < 2 or not metric.better(score, single):
        return None
    progress.say(f"Ensemble of {int(used.sum())} families: validation {metric.name} {score:.4f} "
                 f"(best single {single:.4f})")
    return ([m for m, u in zip(members, used) if u], weights[used], score, single)


def _refit(dataset: Dataset, rows: np.ndarray, plan: Mapping, spec: ModelSpec,
           params: Mapping[str, Any], seed: int, queries: np.ndarray | None = None) -> Any:
    ctx = FeatureContext(dataset.task, spec.needs_scaling, len(rows), seed, dataset.codes)
    model = build_model(spec, params, dataset.task, seed, dataset.classes)
    pipeline = build_pipeline(dataset.columns, build_features(plan, ctx), model)
    rows = rows[train_rows(spec, len(rows), seed)]
    return pipeline.fit(dataset.features.iloc[rows], dataset.y[rows],
                        **fit_params(spec, queries, rows, "model__"))


def _finish(dataset: Dataset, train: np.ndarray, test: np.ndarray, splits: Sequence,
            plan: Mapping, specs: Mapping[str, ModelSpec], registry: PluginRegistry,
            pipeline: Any, board: pd.DataFrame, metric: Metric, config: FitConfig,
            start: float, progress: Progress, members: Sequence | None = None,
            chosen: Any = None, best_rank: int = 1,
            not_exported: Sequence[Mapping[str, Any]] = (),
            converted: dict[int, tuple] | None = None) -> FitResult:
    """Export, check and write the run's model. ``converted`` keeps each fitted pipeline's
    graph and parity (by ``id``, with the pipeline) across the export loop's passes in
    :func:`run`: after a failed export, the members that did convert are not converted again."""
    from . import export  # onnx loads here, and only here

    test_frame = dataset.features.iloc[test].reset_index(drop=True)
    parity_rows = test if len(test) else np.random.RandomState(config.seed).permutation(
        train)[:2000]
    parity_frame = dataset.features.iloc[np.sort(parity_rows)].reset_index(drop=True)
    best = board.iloc[best_rank - 1]
    families = {best["model"]} | {m.model for m, _ in members or ()}
    used = [reg for reg in registry.all() if reg.kind == "feature" and reg.name in plan
            or reg.kind == "model" and reg.name in families
            or reg.kind == "searcher" and reg.name == config.searcher]
    plugin_specs = [reg.spec for reg in used]

    converted = {} if converted is None else converted

    def exported(native: Any, family: str) -> tuple[Any, Any]:
        kept = converted.get(id(native))
        if kept is not None and kept[0] is native:
            return kept[1], kept[2]
        graph = export.to_onnx(native, dataset.columns, dataset.task, dataset.classes,
                               plugin_specs, specs[family])
        parity = export.check_parity(graph.SerializeToString(), native, parity_frame,
                                     dataset.columns, dataset.task, dataset.classes)
        converted[id(native)] = (native, graph, parity)
        return graph, parity

    try:
        graph, parity = exported(pipeline, best["model"])
    except ExportError as exc:
        raise _NotExported(exc) from exc
    single, ensemble_card = None, None
    if members:
        from .ensemble import Ensemble

        graphs = []
        for m, p in members:
            try:
                graphs.append(exported(p, m.model)[0])  # the best's own: kept above
            except Exception as exc:  # noqa: BLE001 - a plugin's converter may raise anything
                error = exc if isinstance(exc, ExportError) else ExportError(
                    f"{type(exc).__name__}: {exc}")
                raise _NotExported(error, member=m.model) from exc
        try:
            native = Ensemble([p for _, p in members], chosen[1], dataset.task, dataset.classes)
            combined = _combined(graphs, members, chosen[1], dataset, plugin_specs, specs)
            ensemble_parity = export.check_parity(
                combined.SerializeToString(), native, parity_frame, dataset.columns,
                dataset.task, dataset.classes)
        except Exception as exc:  # the single best model still counts
            progress.say(f"Ensemble not exported ({type(exc).__name__}: {exc}); exporting "
                         f"the single best model.")
        else:
            single, graph, parity, pipeline = graph, combined, ensemble_parity, native
            ensemble_card = {
                "members": [{"model": m.model, "config": dict(m.config), "weight": float(w)}
                            for (m, _), w in zip(members, chosen[1])],
                "validation_score": chosen[2], "best_single_validation_score": chosen[3],
                "single_best_file": "single_best.onnx"}
    test_metrics = report(dataset.task, dataset.y[test], model_output(
        pipeline, test_frame, dataset.task)) if len(test) else {}
    from . import schema as schemas

    data_schema = schemas.infer_schema(
        coerce_frame(dataset.features, dataset.columns, by="name"), dataset.columns)
    schema_json = schemas.to_json(data_schema)
    card = build_card(dataset, train, test, splits, board, metric, config, test_metrics,
                      parity.to_card(), used, time.monotonic() - start, best_rank)
    if not_exported:
        card["best"]["not_exported"] = [dict(f) for f in not_exported]
    card["schema"] = schemas.summary(data_schema)
    if ensemble_card:
        card["ensemble"] = ensemble_card
    cards.validate_card(card)
    card_json = cards.to_json(card)
    model_bytes = export.with_metadata(graph, card_json, schema_json)
    onnx_path = None
    if config.out is not None:
        if single is not None:
            write_atomic(config.out / "single_best.onnx",
                          export.with_metadata(single, card_json, schema_json))
        else:  # an earlier run's file would pass for this run's
            (config.out / "single_best.onnx").unlink(missing_ok=True)
        onnx_path = _write_run(config.out, model_bytes, card_json, board, schema_json)
        judged = test if len(test) else np.sort(parity_rows)
        _write_report(config.out / "report.html", card=card, board=board,
                      model_bytes=model_bytes, frame=test_frame if len(test) else parity_frame,
                      y=dataset.y[judged], columns=dataset.columns, metric=metric,
                      held_out=bool(len(test)), seed=config.seed)
        what = (f"an ensemble of {', '.join(m['model'] for m in ensemble_card['members'])}"
                if ensemble_card else best["model"])
        tested = (f"test {metric.name} {test_metrics[metric.name]:.4f}"
                  if metric.name in test_metrics else "no test rows")
        progress.say(f"Exported {what} to {onnx_path} ({tested}, parity max diff "
                     f"{parity.max_abs_diff:.2g})")
    return FitResult(board, pipeline, onnx_path, card, model_bytes)


def _combined(graphs: Sequence[Any], members: Sequence[tuple[Any, Any]],
              weights: Sequence[float], dataset: Dataset, plugin_specs: Sequence[Any],
              specs: Mapping[str, ModelSpec]) -> Any:
    """The members' graphs as one graph. When they cannot be brought to one opset as they are
    (skl2onnx wrote one at 16 and a network came at 20, and a text feature graph's
    ``com.microsoft`` operators keep ONNX's version converter away), the members below the
    newest default-domain opset are converted again at it; the ensemble's parity is checked
    after, as always."""
    from . import export

    try:
        return export.combine(graphs, weights, dataset.task, dataset.classes)
    except ExportError:
        newest = max(export.default_opset(g) for g in graphs)
        again = [graph if export.default_opset(graph) == newest else export.to_onnx(
                     pipeline, dataset.columns, dataset.task, dataset.classes, plugin_specs,
                     specs[member.model], opset=newest)
                 for graph, (member, pipeline) in zip(graphs, members)]
        return export.combine(again, weights, dataset.task, dataset.classes)


def build_card(dataset: Dataset, train: np.ndarray, test: np.ndarray, splits: Sequence,
               board: pd.DataFrame, metric: Metric, config: FitConfig,
               test_metrics: Mapping[str, float], parity: Mapping[str, Any], used: Sequence,
               seconds: float, best_rank: int = 1) -> dict[str, Any]:
    from .export import onnx_label_values

    best = board.iloc[best_rank - 1]
    if dataset.task == "regression":
        outputs = [{"name": "value", "dtype": "float", "shape": ["N"]}]
    else:
        label_dtype = "int64" if onnx_label_values(dataset.classes).dtype == np.int64 else "string"
        outputs = [{"name": "label", "dtype": label_dtype, "shape": ["N"]},
                   {"name": "probabilities", "dtype": "float",
                    "shape": ["N", len(dataset.classes)]}]
    card = {
        "format_version": cards.FORMAT_VERSION, "task": dataset.task, "target": dataset.target,
        "inputs": [c.to_card() for c in dataset.columns],
        "dropped_columns": [{"name": n, "reason": r} for n, r in dataset.dropped],
        "codes": None if dataset.codes is None else [c.name for c in dataset.columns
                                                     if c.onnx_name in dataset.codes],
        "outputs": outputs, "metric": {"name": metric.name, "mode": metric.mode},
        "validation": {"strategy": "cv" if len(splits) > 1 else "holdout", "folds": len(splits),
                       "score": float(best[metric.name])},
        "test_metrics": dict(test_metrics),
        "best": {"model": best["model"], "config": json.loads(best["config"]),
                 "rank": best_rank, "predict_us": _finite(best["predict_us"])},
        "leaderboard": _summary(board, metric),
        "search": {"searcher": config.searcher, "scheduler": config.scheduler,
                   "trials": int(len(board)),
                   "failed": int((board["status"] != "ok").sum()), "seed": config.seed,
                   "time_budget_s": config.time_budget, "max_trials": config.max_trials,
                   "max_predict_us": config.max_predict_us,
                   "wall_seconds": round(seconds, 2)},
        "rows": {"train": int(len(train)), "test": int(len(test))},
        "parity": dict(parity),
        "plugins": [{"name": r.name, "kind": r.kind, "plugin": r.plugin,
                     "distribution": r.distribution, "version": r.version} for r in used],
        "versions": cards.library_versions(),
        "data_fingerprint": cards.data_fingerprint(dataset.features.assign(
            **{dataset.target: dataset.y})),
        "created": cards.now(),
    }
    if dataset.task != "regression":
        card["class_labels"] = list(dataset.classes)
    return card


def _summary(board: pd.DataFrame, metric: Metric, top: int = 10) -> list[dict[str, Any]]:
    best_per_model = board[board["status"] == "ok"].drop_duplicates("model")
    return [{"model": row["model"], metric.name: _finite(row[metric.name]),
             "fit_seconds": float(row["fit_seconds"])} for _, row in best_per_model.head(top).iterrows()]


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _write_run(out: Path, model_bytes: bytes, card_json: str, board: pd.DataFrame,
               schema_json: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "leaderboard.csv", board.to_csv(index=False).encode())
    write_atomic(out / "schema.json", schema_json.encode())
    write_atomic(out / "model_card.json", card_json.encode())
    write_atomic(out / "model.onnx", model_bytes)
    shutil.rmtree(out / STATE_DIR, ignore_errors=True)  # finished: nothing left to resume
    return out / "model.onnx"


def _write_report(path: Path, **inputs: Any) -> None:
    """report.html; a report that cannot be drawn costs a warning, never the run (the model
    files are already written)."""
    from .report import render

    try:
        page = render(**inputs)
    except Exception as exc:  # noqa: BLE001 - any plotting failure
        path.unlink(missing_ok=True)  # an earlier run's report would pass for this run's
        warnings.warn(f"report.html not written ({type(exc).__name__}: {exc}); the model files "
                      f"are complete.", RuntimeWarning, stacklevel=2)
        return
    write_atomic(path, page.encode())
