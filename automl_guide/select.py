"""The select stage: the leaderboard of the search's trials, the order in which they are chosen
for export, and the ensemble of the best trial of each family when it beats the best alone.

No Ray, no ONNX: records in, a leaderboard and choices out.
"""
from __future__ import annotations

import json
import time
import warnings
from typing import Any, Container, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from .errors import SearchError
from .metrics import Metric
from .progress import Progress
from .specs import ModelSpec
from .records import TrialData, TrialRecord

# A tie on validation: a completed trial within this many of the best's standard errors
# (score_se) of its score, that predicts at least TIE_SPEEDUP times faster, is chosen over it.
TIE_SE = 0.1
TIE_SPEEDUP = 2.0


class Chosen(NamedTuple):
    """A trial chosen for export: its family, its configuration and its leaderboard rank."""

    model: str
    config: dict[str, Any]
    rank: int


class EnsemblePlan(NamedTuple):
    """An ensemble that beat the best single trial on validation: its members (best first),
    their weights, its validation score and the best single trial's."""

    members: list
    weights: np.ndarray
    score: float
    single_score: float


class NoEnsemble(NamedTuple):
    """Why the run exports a single model; false, as None was, so ``if plan:`` reads the same."""

    reason: str

    def __bool__(self) -> bool:
        return False


def leaderboard(records: Sequence[TrialRecord], metric: Metric) -> pd.DataFrame:
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


def ties_to_faster(board: pd.DataFrame, metric: Metric) -> pd.DataFrame:
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


def why_not_first(board: pd.DataFrame, rank: int, metric: Metric,
                  max_predict_us: float | None) -> str:
    """Why the trial ranked ``rank`` (not the first) is the one exported."""
    first, picked = board.iloc[0], board.iloc[rank - 1]
    why = (f"Within max_predict_us={max_predict_us:g}" if max_predict_us is not None and
           not first["predict_us"] <= max_predict_us else
           f"A tie on validation {metric.name} (within {TIE_SE:g} of a standard error of the "
           f"first, which takes {first['predict_us']:g} us per row)")
    return (f"{why}: exporting the trial ranked {rank} ({picked['model']}, "
            f"{picked['predict_us']:g} us per row)")


def best(board: pd.DataFrame, max_predict_us: float | None = None,
         skip: Iterable[str] = (), stacklevel: int = 4) -> Chosen:
    """The best trial that succeeded, among those that predict within ``max_predict_us`` per
    row when that is set, and not of a family in ``skip`` (families whose export failed).
    ``stacklevel``: where the warning that none is fast enough points (the user's call)."""
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
                          f"{row['predict_us']:g} us).", RuntimeWarning, stacklevel=stacklevel)
        else:
            row = fast.iloc[0]
    return Chosen(row["model"], json.loads(row["config"]), int(row["rank"]))


def trial_key(model: str, params: Mapping[str, Any]) -> str:
    """One string per family and configuration: what a refit is cached under."""
    return json.dumps([model, params], sort_keys=True, default=str)


def choose_ensemble(board: pd.DataFrame, data: TrialData, specs: Mapping[str, ModelSpec],
                    metric: Metric, deadline: float | None, progress: Progress,
                    known: Mapping[str, np.ndarray] | None = None,
                    max_predict_us: float | None = None,
                    refitted: Container[str] = frozenset()) -> EnsemblePlan | NoEnsemble:
    """The ensemble of the best trial of each family when it beats the best single trial on
    validation; else why not (one family, no time to refit the members, or no gain). Members'
    validation outputs come from ``known`` (by trial id, sent back by the trials) or, missing
    there, from fitting them again. With ``max_predict_us``, members are only trials within it,
    and together they stay within it. Members already refitted on all training rows (their
    :func:`trial_key` in ``refitted``, after an export failed) cost no refit time."""
    from . import ensemble

    if max_predict_us is not None:
        board = board[board["predict_us"] <= max_predict_us]
    candidates = ensemble.candidates(board, specs)
    if len(candidates) < 2:
        return NoEnsemble("fewer than two model families completed a trial" + (
            f" within max_predict_us={max_predict_us:g}" if max_predict_us is not None else ""))
    if candidates[0].model != best(board).model:  # a ranker: nothing to build on
        return NoEnsemble(f"the best trial's family ({best(board).model}) cannot be a member")
    members = _affordable(candidates, board.drop_duplicates("model").set_index("model"),
                          data.n_splits, deadline, known, max_predict_us, refitted)
    if len(members) < 2:
        why = ("the budget left was too short to refit its members" if deadline is not None
               else f"the members' prediction times add up past max_predict_us={max_predict_us:g}")
        if deadline is not None:
            progress.say(f"No ensemble: {why}.")
        return NoEnsemble(why)
    outputs, y = ensemble.validation_outputs(members, data, known)
    weights, score = ensemble.greedy_weights(outputs, y, metric)
    single = float(metric.fn(y, outputs[0]))
    used = weights > 0
    if used.sum() < 2 or not metric.better(score, single):
        return NoEnsemble(f"no gain on validation: the best mix of {len(members)} families "
                          f"scored {metric.name} {score:.4f} against {single:.4f} for the best "
                          "single trial")
    progress.say(f"Ensemble of {int(used.sum())} families: validation {metric.name} {score:.4f} "
                 f"(best single {single:.4f})")
    return EnsemblePlan([m for m, u in zip(members, used) if u], weights[used], score, single)


def _affordable(candidates: Sequence, rows: pd.DataFrame, n_splits: int,
                deadline: float | None, known: Mapping[str, np.ndarray] | None,
                max_predict_us: float | None, refitted: Container[str]) -> list:
    """The candidates, best families first, while the time left allows their refits (and
    their validation fits when their outputs are not known) and their prediction times add up
    to at most ``max_predict_us``. A better family is never skipped for a cheaper one: the
    best must lead."""
    members, cost, latency = [], 0.0, 0.0
    for member in candidates:
        # the refit on all training rows (one split's fit, a little more), and the validation
        # fits when the trial's outputs are not known
        trial = float(rows.loc[member.model, "fit_seconds"])
        more = (0.0 if trial_key(member.model, member.config) in refitted
                else 1.5 * trial / n_splits) + (0.0 if known and member.trial_id in known
                                                 else trial)
        if deadline is not None and time.monotonic() + cost + more + 5.0 > deadline:
            break
        micros = 0.0
        if max_predict_us is not None:
            micros = float(rows.loc[member.model, "predict_us"])
            if latency + micros > max_predict_us:
                break  # the members' prediction times add up
        members.append(member)
        cost, latency = cost + more, latency + micros
    return members
