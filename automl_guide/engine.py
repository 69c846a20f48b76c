"""One run, stage after stage: load -> validate -> split -> features -> search -> select ->
refit -> export -> parity -> evaluate -> write. :func:`fit` reads top to bottom; each stage is a
module with a public function (docs/architecture.md has one row per module)."""
from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import card as cards
from . import delivery, families, features, run_dir, select, tuning
from . import splits as splits_module
from .columns import coerce_frame, string_names
from .data import Dataset, prepare
from .splits import Structure, test_split, validation_splits
from .errors import DataError, ExportError, SearchError
from .metrics import Metric, get_metric, report
from .options import FitConfig, check_options
from .pipeline import feature_plan, model_output
from .progress import Progress
from .refit import Refits
from .registry import PluginRegistry
from .specs import ModelSpec
from .tables import load_table
from .records import BUDGET_RAN_OUT, TrialData

ASHA_STAGES = 9  # iterative trials report after each ninth of their rounds/epochs: rungs 1, 3 of 9


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


@dataclass(frozen=True)
class Run:
    """What the stages after the search read: the run's options, its data and how it is split,
    the feature plan, the families searched, and the clock."""

    config: FitConfig
    registry: PluginRegistry
    dataset: Dataset
    metric: Metric
    specs: Mapping[str, ModelSpec]
    train: np.ndarray
    test: np.ndarray
    splits: Sequence
    plan: Mapping
    data: TrialData
    progress: Progress
    start: float
    deadline: float | None
    queries: np.ndarray | None
    structure: Structure = Structure()


def fit(data: pd.DataFrame | str | Path, config: FitConfig, registry: PluginRegistry,
        groups: np.ndarray | None = None, queries: np.ndarray | None = None) -> FitResult:
    """The stages of :func:`~automl_guide.fit_and_export`. ``groups`` (one value per row, e.g.
    customer ids) keeps each group's rows together in the test split and in every validation
    split. ``queries`` (one integer per row, e.g. a customer at a cutoff) are what ranking
    families (``ModelSpec.needs_queries``) order rows within, and what a ranking metric
    (``ndcg@K``) judges; without them those families sit out."""
    start = time.monotonic()
    config = check_options(config, registry)
    deadline = start + config.time_budget if config.time_budget else None
    frame = string_names(data if isinstance(data, pd.DataFrame) else load_table(data))  # load
    config = run_dir.start(config, frame)
    dataset, structure = _validate(frame, config, groups, queries)  # validate
    metric = get_metric(config.metric, dataset.task)
    if metric.needs_queries and queries is None:
        raise DataError(f"The metric {metric.name} judges the order within queries; it needs "
                        "the shop's rank task (fit_shop), which knows them.")
    specs = families.model_specs(registry, config.models, dataset.task, queries is not None)
    progress = Progress(metric, deadline, config.quiet)
    train, test = test_split(dataset.y, dataset.task, config.test_size, config.seed,
                             structure=structure)
    splits = validation_splits(dataset.y[train], dataset.task, config.validation, config.folds,
                               config.seed, structure=structure.subset(train))
    if structure.random:  # a random split says when the table looks as if it should not be
        splits_module.suggest(frame, dataset, train, test)
    plan = feature_plan(registry, dataset.columns)  # features
    trial_data = features.fold_matrices(dataset, train, splits, plan, specs, metric,
                                        config.seed, ASHA_STAGES if config.scheduler == "asha"
                                        else 1, queries, _structured(structure, train))
    specs, spaces, defaults = families.searchable(specs, dataset.task, trial_data.n_fit_rows)
    progress.say(f"automl-guide: {dataset.task} on {len(dataset.y)} rows x "
                 f"{len(dataset.columns)} columns; {len(specs)} model "
                 f"{'family' if len(specs) == 1 else 'families'}; "
                 f"{len(splits)}-split validation; metric {metric.name}")
    if config.out is not None and not config.resume:
        run_dir.save_run_options(config, frame)
    run = Run(config, registry, dataset, metric, specs, train, test, splits, plan, trial_data,
              progress, start, deadline, queries, structure)
    records, outputs, short = _search(run, spaces, defaults)  # search
    board = select.leaderboard(records, metric)
    if not board["status"].isin(["ok", "error"]).any() and (
            board.empty or (board["error"] == BUDGET_RAN_OUT).any()):  # before any trial ended
        records = list(records) + [tuning.fallback_trial(trial_data, specs, defaults, progress)]
        board = select.leaderboard(records, metric)
    try:  # select -> refit -> export -> parity, family after family; evaluate -> write
        return _export_first(run, board, outputs, short)
    except Exception as exc:
        if config.out is not None:  # nothing is lost: the leaderboard survives a failed export
            run_dir.keep_leaderboard(config.out, board)
            run_dir.end_search(config.out)
        if isinstance(exc, ExportError):
            exc.leaderboard = board
        raise


def _validate(frame: pd.DataFrame, config: FitConfig, groups: np.ndarray | None,
              queries: np.ndarray | None) -> tuple[Dataset, Structure]:
    """The user's schema checked first (every failure in one error), then the table prepared
    for ``config.target`` without the columns that only structure the splits; groups and
    queries must have one value per row."""
    if config.schema is not None:
        from .schema import load_user_schema, validate_training

        validate_training(frame, load_user_schema(config.schema))
    named = splits_module.structure_columns(frame, config.target, config.group_column,
                                            config.time_column)
    split_only = [c for c in named if c != config.time_column or config.time_column_not_feature]
    dataset = prepare(frame.drop(columns=split_only), config.target, config.task, config.codes)
    for name, values in (("groups", groups), ("queries", queries)):
        if values is not None and len(values) != len(dataset.y):
            raise DataError(f"{name} has {len(values)} values for {len(dataset.y)} rows.")
    structure = splits_module.from_columns(frame.iloc[dataset.rows], config.group_column,
                                           config.time_column, config.time_gap)
    if groups is not None:  # the shop's customers
        structure = structure._replace(groups=np.asarray(groups))
    return dataset, structure


def _structured(structure: Structure, rows: np.ndarray | None = None) -> Structure | None:
    """``structure`` (of ``rows``) where it has groups or times; None for a random split."""
    if structure.random:
        return None
    return structure if rows is None else structure.subset(rows)


def _search(run: Run, spaces: Mapping[str, dict], defaults: Mapping[str, dict]
            ) -> tuple[list, dict[str, np.ndarray]]:
    """The search stage; on Ctrl-C, what was found is kept (the leaderboard, and the searcher
    for ``--resume``) before the interruption goes on."""
    config = run.config
    try:
        return tuning.search(run.data, run.specs, (spaces, defaults), run.registry, config,
                             run.metric, run.deadline, run.progress,
                             None if config.out is None else config.out / run_dir.STATE_DIR)
    except KeyboardInterrupt as exc:
        board = select.leaderboard(getattr(exc, "records", []), run.metric)
        if config.out is not None:
            resume = run_dir.keep_interrupted(config.out, board, exc)
            run.progress.say(f"Interrupted: the {len(board)} trials so far are in "
                             f"{config.out / 'leaderboard.csv'}{resume}")
        raise


def _export_first(run: Run, board: pd.DataFrame, outputs: Mapping[str, np.ndarray],
                  short: tuning.ShortBudget | None = None) -> FitResult:
    """The export loop: the best trial (or the ensemble it leads) refitted, exported and checked;
    when its family's export fails, the best trial of the next family, in the selection's
    order; when an ensemble member's fails, the ensemble chosen again without that family."""
    config, metric = run.config, run.metric
    order = select.ties_to_faster(board, metric)  # the leaderboard, in the order of choice
    best = select.best(order, config.max_predict_us)  # raises unless a trial succeeded
    if best.rank > 1:
        run.progress.say(select.why_not_first(board, best.rank, metric, config.max_predict_us))
    failed: list[dict[str, Any]] = []  # trials whose export failed, in rank order
    left_out: set[str] = set()  # ensemble members whose export failed
    refits = Refits(run.dataset, run.train, run.plan, run.specs, config.seed, run.queries,
                    _structured(run.structure))
    converter = delivery.Converter(run.dataset, run.specs, _parity_frame(run))
    ensembles = config.ensemble and not metric.needs_queries
    why = ("--no-ensemble" if not config.ensemble
           else "a ranking metric's scores are no probabilities to average")
    while True:  # plan: an ensemble led by `best`, of families whose export has not failed
        plan = select.NoEnsemble(why)
        if ensembles:
            skip = {f["model"] for f in failed} | left_out
            plan = select.choose_ensemble(order[~order["model"].isin(skip)], run.data, run.specs,
                                          metric, run.deadline, run.progress, outputs,
                                          config.max_predict_us, refitted=refits.done)
        pipeline = refits(best.model, best.config)
        members = [(m, refits(m.model, m.config)) for m in plan.members] if plan else None
        used = _plugins_used(run, {best.model} | {m.model for m, _ in members or ()})
        try:
            exported = delivery.export_choice(converter, [r.spec for r in used], pipeline,
                                              best.model, members, plan, run.progress)
        except delivery.NotExported as failure:  # the next family, or an ensemble without it
            if failure.member is not None:  # a member, not the best: an ensemble without it
                left_out.add(failure.member)
                ensembles = failure.member != best.model  # else the best alone
                why = f"the best trial's family ({best.model}) did not export as a member"
                run.progress.say(f"Ensemble member {failure.member} did not export "
                                 f"({failure.error}); " + (
                                     "choosing the ensemble again without it." if ensembles
                                     else "exporting the best model alone."))
                continue
            failed.append({"rank": best.rank, "model": best.model, "error": str(failure.error)})
            best = _next_family(order, config, best, failed, failure.error)
            continue
        if not plan and not exported.no_ensemble:
            exported = dataclasses.replace(exported, no_ensemble=plan.reason)
        return _finish(run, board, best, exported, used, failed, short)


def _next_family(order: pd.DataFrame, config: FitConfig, best: select.Chosen,
                 failed: Sequence[Mapping[str, Any]], error: Exception) -> select.Chosen:
    """The best trial of a family whose export has not failed, with a warning; one error for
    every failure when no family is left."""
    try:
        following = select.best(order, config.max_predict_us, {f["model"] for f in failed},
                                stacklevel=5)
    except SearchError:  # no other family: every failure in one error
        raise nothing_exported(failed, config) from error
    warnings.warn(f"The {best.model} trial ranked {best.rank} did not export ({error}); "
                  f"exporting the best trial of another family instead: {following.model}, "
                  f"ranked {following.rank}.", RuntimeWarning, stacklevel=4)
    return following


def nothing_exported(failures: Sequence[Mapping[str, Any]], config: FitConfig) -> ExportError:
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


def _parity_rows(run: Run) -> np.ndarray:
    """The rows parity is checked on: the test rows, else up to 2,000 training rows."""
    if len(run.test):
        return run.test
    return np.random.RandomState(run.config.seed).permutation(run.train)[:2000]


def _parity_frame(run: Run) -> pd.DataFrame:
    rows = np.sort(_parity_rows(run))
    return run.dataset.features.iloc[rows].reset_index(drop=True)


def _plugins_used(run: Run, families_used: set[str]) -> list:
    """The registrations the exported model uses: its feature plugins, its families and the
    searcher."""
    return [reg for reg in run.registry.all()
            if reg.kind == "feature" and reg.name in run.plan
            or reg.kind == "model" and reg.name in families_used
            or reg.kind == "searcher" and reg.name == run.config.searcher]


def _finish(run: Run, board: pd.DataFrame, best: select.Chosen, exported: delivery.Exported,
            used: Sequence, failed: Sequence[Mapping[str, Any]],
            short: tuning.ShortBudget | None) -> FitResult:
    """Evaluate the exported model on the test rows, build its card and schema, and write the
    run's files."""
    from . import export
    from . import schema as schemas

    dataset, config, test = run.dataset, run.config, run.test
    test_frame = dataset.features.iloc[test].reset_index(drop=True)
    test_metrics = report(dataset.task, dataset.y[test], model_output(
        exported.native, test_frame, dataset.task)) if len(test) else {}  # evaluate
    data_schema = schemas.infer_schema(
        coerce_frame(dataset.features, dataset.columns, by="name"), dataset.columns)
    schema_json = schemas.to_json(data_schema)
    card = cards.build_card(dataset, run.train, test, run.splits, board, run.metric, config,
                            test_metrics, exported.parity.to_card(), used,
                            time.monotonic() - run.start, best.rank, list(run.specs), short)
    if failed:
        card["best"]["not_exported"] = [dict(f) for f in failed]
    card["schema"] = schemas.summary(data_schema)
    card["validation"]["structure"] = {
        "split": run.structure.describe(config.group_column or "the shop's customers",
                                        config.time_column, len(run.splits) > 1,
                                        bool(len(test))),
        "group_column": config.group_column, "time_column": config.time_column,
        "time_gap": config.time_gap}
    if exported.ensemble_card:
        card["ensemble"] = dict(exported.ensemble_card)
    else:
        card["search"]["no_ensemble"] = exported.no_ensemble
    cards.validate_card(card)
    card_json = cards.to_json(card)
    model_bytes = export.with_metadata(exported.graph, card_json, schema_json)
    if config.out is None:
        return FitResult(board, exported.native, None, card, model_bytes)
    single = (None if exported.single is None
              else export.with_metadata(exported.single, card_json, schema_json))
    onnx_path = run_dir.write_run(config.out, model_bytes, card_json, board, schema_json, single)
    judged = np.sort(_parity_rows(run)) if not len(test) else test
    run_dir.write_report(config.out / "report.html", card=card, board=board,
                         model_bytes=model_bytes,
                         frame=test_frame if len(test) else _parity_frame(run),
                         y=dataset.y[judged], columns=dataset.columns, metric=run.metric,
                         held_out=bool(len(test)), seed=config.seed)
    what = (f"an ensemble of {', '.join(m['model'] for m in exported.ensemble_card['members'])}"
            if exported.ensemble_card else best.model)
    tested = (f"test {run.metric.name} {test_metrics[run.metric.name]:.4f}"
              if run.metric.name in test_metrics else "no test rows")
    run.progress.say(f"Exported {what} to {onnx_path} ({tested}, parity max diff "
                     f"{exported.parity.max_abs_diff:.2g})")
    return FitResult(board, exported.native, onnx_path, card, model_bytes)
