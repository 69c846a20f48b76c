"""``fit_and_export``: the one call of a run, from a table to one exported ONNX graph. The
stages are :func:`automl_guide.engine.fit`'s; the options are :class:`FitConfig`'s."""
from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import pandas as pd

from . import engine
from .engine import FitResult
from .options import DEFAULTS, FitConfig, make_config
from .registry import load_registry
from .runtime import require_training

__all__ = ["FitConfig", "FitResult", "fit_and_export"]


def fit_and_export(data: pd.DataFrame | str | os.PathLike, target: str, *, task: str | None = None,
                   time_budget: float | None = 60.0, max_trials: int | None = None,
                   models: Sequence[str] | None = None, searcher: str = "random",
                   metric: str | None = None, out: str | os.PathLike | None = "automl_guide_run",
                   seed: int = 0, validation: str = "auto", folds: int = 5,
                   test_size: float = 0.2, group_column: str | None = None,
                   time_column: str | None = None, time_gap: str | float | None = None,
                   time_column_not_feature: bool = False, address: str | None = None,
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
    :param group_column: a column of groups (customers, stores, sessions): a group's rows all
        land on one side of the test split and of every validation split, so the scores are
        those of groups the model has not seen. The column is not a feature. Without it, a
        column named like an identifier whose values repeat across the split gets a warning.
    :param time_column: a column of times (datetimes, or numbers such as a month index): the
        test rows are the latest ``test_size`` of the rows, the holdout the latest 20 % of the
        rest, and k-fold validation chains forward (``folds`` periods after the first, each
        validated with every earlier row as training). Rows of one instant stay together. With
        ``group_column`` too, the later side of each split keeps only the groups that have no
        earlier rows (new groups, later). A feature too unless ``time_column_not_feature``.
    :param time_gap: rows within this time before the later side of each split are left out
        of its training side (a duration such as ``"7 days"``; a number for a numeric time
        column).
    :param time_column_not_feature: the time column only splits the rows; the model does not
        see it.
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
    options = {name: value for name, value in locals().items() if name in DEFAULTS}
    require_training("fit_and_export")
    return engine.fit(data, make_config(target, **options), load_registry(plugins))
