"""Fit ONE AutoML system on a train Parquet file, measure it on a test Parquet file, write JSON.

    python peer_runner.py --system flaml --train train.parquet --test test.parquet \\
        --target y --budget 60 --out DIR --seed 0 [--cpus 2]

Standalone on purpose: ``benchmarks/peers.py`` runs it with each system's own interpreter (FLAML
and AutoGluon live in their own virtual environments, their pins clash with automl-guide's), so
it imports only numpy, pandas, psutil, scikit-learn and the one system it runs; automl-guide is
imported only for ``--system automl_guide``.

The target must already be encoded 0/1 (the driver does it); the positive class is 1 and the
score is the test ROC AUC of P(1). What is measured, all on the artifact reloaded from disk (what
a service would run):

- ``fit_s``: wall time of the fit call as the user waits for it (automl-guide: ``fit_and_export``
  with Ray start-up, refit, ONNX export and parity; FLAML: ``AutoML.fit``; AutoGluon:
  ``TabularPredictor.fit``);
- ``peak_mem_mb``: peak RSS summed over this process and all its descendants (Ray's processes
  included), sampled every 0.2 s during the fit. Shared pages (Ray's object store, libraries)
  count once per process that maps them, so it overstates what the machine needs;
- ``latency_p50_ms``/``latency_p99_ms``: the native ``predict_proba`` on 200 test rows, one
  one-row DataFrame at a time, after 10 warm-up calls; for automl-guide also
  ``onnx_latency_*``: a bare ``onnxruntime.InferenceSession`` on model.onnx fed one row's
  ready-made numpy inputs (built before the timed loop, as a service holding typed values would);
- ``throughput_rows_s``: ``predict_proba`` on 1,000 test rows at once, best of 3 (test sets with
  fewer rows are repeated up to 1,000);
- ``artifact_mb``: what a service needs on disk (``artifact`` says what that is).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

SYSTEMS = ("automl_guide", "flaml", "autogluon")
LATENCY_ROWS = 200
WARMUP_CALLS = 10
BATCH_ROWS = 1000
BATCH_REPEATS = 3
SAMPLE_EVERY_S = 0.2


class PeakMemory:
    """Peak of the RSS summed over this process and its descendants, sampled by a thread."""

    def __init__(self, every: float = SAMPLE_EVERY_S):
        import psutil

        self._psutil = psutil
        self._root = psutil.Process()
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.peak_bytes = 0
        self.samples = 0

    def _sample(self) -> int:
        total = 0
        try:
            processes = [self._root] + self._root.children(recursive=True)
        except self._psutil.Error:
            processes = [self._root]
        for process in processes:
            try:
                total += process.memory_info().rss
            except self._psutil.Error:  # it ended between listing and reading
                pass
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._sample())
            self.samples += 1
            self._stop.wait(self._every)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._sample())

    @property
    def mb(self) -> float:
        return self.peak_bytes / 2**20


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def latency_ms(call: Callable[[Any], Any], items: list) -> tuple[float, float]:
    """p50 and p99 (ms) of ``call(item)`` over ``items`` after WARMUP_CALLS untimed calls."""
    for item in items[:WARMUP_CALLS]:
        call(item)
    times = []
    for item in items:
        start = time.perf_counter_ns()
        call(item)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def rows_per_s(call: Callable[[Any], Any], batch: Any, n: int) -> float:
    best = float("inf")
    for _ in range(BATCH_REPEATS):
        start = time.perf_counter()
        call(batch)
        best = min(best, time.perf_counter() - start)
    return n / best


def auc(y: np.ndarray, p1: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p1))


def version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version(dist)
    except PackageNotFoundError:
        return None


# --- the systems: each fits, saves its artifact, and returns (predict_proba -> P(1), facts) ---

def run_automl_guide(train: pd.DataFrame, args: argparse.Namespace, out: Path
                     ) -> tuple[dict, Callable, dict]:
    import automl_guide

    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    facts: dict[str, Any] = {}
    with PeakMemory() as memory:
        start = time.perf_counter()
        budget = args.budget
        if (os.cpu_count() or 1) > args.cpus:  # Ray would take every CPU: start it with fewer,
            from automl_guide.search import ensure_ray  # and count its start in the budget

            ensure_ray(num_cpus=args.cpus)
            budget = max(1.0, args.budget - (time.perf_counter() - start))
        result = automl_guide.fit_and_export(train, args.target, task="binary",
                                             time_budget=budget, out=run_dir, seed=args.seed,
                                             test_size=0, overwrite=True, quiet=True,
                                             group_column=args.group_column,
                                             time_column=args.time_column,
                                             max_predict_us=args.max_predict_us,
                                             plugins=[importlib.import_module(name)
                                                      for name in args.plugin])
        fit_s = time.perf_counter() - start
    import ray

    ray.shutdown()  # idle workers would hold memory and CPUs while we measure
    card = result.card
    members = card.get("ensemble", {}).get("members")
    facts["best_model"] = ("ensemble(" + "+".join(m["model"] for m in members) + ")"
                           if members else card["best"]["model"])
    facts["trials"] = card["search"]["trials"]
    facts["max_predict_us"] = args.max_predict_us
    facts["plugins"] = args.plugin
    facts["exported_rank"] = card["best"]["rank"]
    facts["trials_failed"] = card["search"]["failed"]
    facts["train_rows_used"] = card["rows"]["train"]
    facts["note"] = ("test_size=0: the harness holds out its own test rows, so every training "
                     "row trains the exported model, as with the peers")
    model = run_dir / "model.onnx"
    predictor = automl_guide.load(run_dir)
    positive = _positive_index(predictor.classes)
    fitted = {"fit_s": fit_s, "peak_mem_mb": memory.mb, "artifact_mb": size_mb(model),
              "artifact": "model.onnx (card and schema embedded)", "version":
              automl_guide.__version__, "versions": {"onnxruntime": version("onnxruntime"),
                                                     "ray": version("ray")}}
    facts["_onnx"] = (model, predictor)
    return fitted, lambda frame: predictor.predict_proba(frame)[:, positive], facts


def _positive_index(classes: list) -> int:
    for i, c in enumerate(classes):
        if str(c) in ("1", "1.0", "True"):
            return i
    return len(classes) - 1


def onnx_measure(model: Path, predictor: Any, rows: pd.DataFrame, batch: pd.DataFrame
                 ) -> dict[str, float]:
    """A bare onnxruntime session on model.onnx, fed typed one-row numpy arrays built ahead."""
    import onnxruntime as ort
    from automl_guide.columns import onnx_feeds

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.type for i in session.get_inputs()}
    feeds = [onnx_feeds(rows.iloc[[i]], predictor.columns) for i in range(len(rows))]
    assert set(feeds[0]) == set(inputs), (sorted(feeds[0]), sorted(inputs))
    p50, p99 = latency_ms(lambda feed: session.run(["probabilities"], feed), feeds)
    big = onnx_feeds(batch, predictor.columns)
    return {"onnx_latency_p50_ms": p50, "onnx_latency_p99_ms": p99,
            "onnx_throughput_rows_s": rows_per_s(lambda f: session.run(["probabilities"], f),
                                                 big, len(batch)),
            "onnx_inputs": len(inputs)}


def run_flaml(train: pd.DataFrame, args: argparse.Namespace, out: Path
              ) -> tuple[dict, Callable, dict]:
    import pickle

    from flaml import AutoML

    structure: dict[str, Any] = {}
    if args.time_column:  # FLAML's time split takes the rows in time order
        train = train.sort_values(args.time_column, kind="stable").reset_index(drop=True)
        structure = {"split_type": "time"}
    if args.group_column:
        structure = {"split_type": "group", "groups": train[args.group_column].to_numpy()}
        train = train.drop(columns=[args.group_column])
    X, y = train.drop(columns=[args.target]), train[args.target].to_numpy()
    automl = AutoML()
    with PeakMemory() as memory:
        start = time.perf_counter()
        automl.fit(X, y, task="classification", metric="roc_auc", time_budget=args.budget,
                   n_jobs=args.cpus, seed=args.seed, verbose=0, log_type="all",
                   log_file_name=str(out / "flaml.log"), **structure)
        fit_s = time.perf_counter() - start
    artifact = out / "automl.pkl"
    with open(artifact, "wb") as handle:
        pickle.dump(automl, handle, pickle.HIGHEST_PROTOCOL)
    with open(artifact, "rb") as handle:
        loaded = pickle.load(handle)
    positive = _positive_index(list(loaded.classes_))
    facts = {"best_model": automl.best_estimator, "best_config": automl.best_config,
             "trials": _count_trials(out / "flaml.log"),
             "model_only_mb": len(pickle.dumps(automl.model, pickle.HIGHEST_PROTOCOL)) / 2**20}
    fitted = {"fit_s": fit_s, "peak_mem_mb": memory.mb, "artifact_mb": size_mb(artifact),
              "artifact": "pickle of the fitted flaml.AutoML object", "version": version("flaml"),
              "versions": {"lightgbm": version("lightgbm"), "xgboost": version("xgboost"),
                           "xgboost-cpu": version("xgboost-cpu"),
                           "catboost": version("catboost")}}
    return fitted, lambda frame: loaded.predict_proba(frame)[:, positive], facts


def _count_trials(log: Path) -> int | None:
    try:
        return sum('"record_id"' in line for line in log.read_text().splitlines())
    except OSError:
        return None


def run_autogluon(train: pd.DataFrame, args: argparse.Namespace, out: Path
                  ) -> tuple[dict, Callable, dict]:
    from autogluon.tabular import TabularPredictor

    path = out / "autogluon"
    shutil.rmtree(path, ignore_errors=True)
    predictor = TabularPredictor(label=args.target, problem_type="binary", eval_metric="roc_auc",
                                 path=str(path), verbosity=2)
    tuning = {}
    if args.valid_rows:  # validation by group or time: the structured holdout as tuning_data
        train = train.drop(columns=[c for c in [args.group_column] if c])
        held = np.zeros(len(train), bool)
        held[np.load(args.valid_rows)] = True
        train, tuning = train[~held], {"tuning_data": train[held]}
    with PeakMemory() as memory:
        start = time.perf_counter()
        predictor.fit(train, time_limit=args.budget, num_cpus=args.cpus, num_gpus=0, **tuning)
        fit_s = time.perf_counter() - start
    saved = "predictor directory"
    if hasattr(predictor, "save_space"):
        predictor.save_space()
        saved += " after save_space()"
    loaded = TabularPredictor.load(str(path))
    try:  # the documented way to serve: models kept in memory between calls
        loaded.persist()
        saved += "; persist() before predicting"
    except Exception:  # noqa: BLE001 - older versions name it differently; measure as loaded
        pass
    board = loaded.leaderboard(silent=True)
    facts = {"best_model": loaded.model_best, "trials": int(len(board)),
             "models": board["model"].tolist()}
    fitted = {"fit_s": fit_s, "peak_mem_mb": memory.mb, "artifact_mb": size_mb(path),
              "artifact": saved, "version": version("autogluon.tabular"),
              "versions": {"lightgbm": version("lightgbm"), "xgboost": version("xgboost"),
                           "xgboost-cpu": version("xgboost-cpu"),
                           "catboost": version("catboost"), "torch": version("torch")}}
    positive = 1 if 1 in loaded.class_labels else loaded.class_labels[-1]
    return fitted, lambda frame: loaded.predict_proba(frame)[positive].to_numpy(), facts


RUNNERS = {"automl_guide": run_automl_guide, "flaml": run_flaml, "autogluon": run_autogluon}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--system", choices=SYSTEMS, required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--budget", type=float, required=True, help="seconds")
    parser.add_argument("--out", type=Path, required=True, help="directory; result.json goes here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--max-predict-us", type=float, default=None,
                        help="automl-guide only: its prediction-time limit (default: none; "
                        "peers.py never sets it)")
    parser.add_argument("--group-column", help="rows of a group on one side of every split")
    parser.add_argument("--time-column", help="validation by time (the latest rows held out)")
    parser.add_argument("--valid-rows", help="AutoGluon: .npy of the training rows to tune on")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="automl-guide only: a plugin module to register in-process, e.g. "
                        "automl_guide_mlp with PYTHONPATH=examples/mlp_plugin (Ray's workers "
                        "import it from there too); repeatable")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"system": args.system, "budget_s": args.budget, "seed": args.seed,
                              "cpus": args.cpus, "python": platform.python_version()}
    try:
        train, test = pd.read_parquet(args.train), pd.read_parquet(args.test)
        result.update(n_train=len(train), n_test=len(test))
        fitted, proba, facts = RUNNERS[args.system](train, args, args.out)
        X_test, y_test = test.drop(columns=[args.target]), test[args.target].to_numpy()
        rows = X_test.iloc[:LATENCY_ROWS]
        batch = pd.concat([X_test] * -(-BATCH_ROWS // len(X_test)), ignore_index=True)
        batch = batch.iloc[:BATCH_ROWS]
        result.update(fitted)
        result["score"] = auc(y_test, np.asarray(proba(X_test), dtype=float))
        p50, p99 = latency_ms(proba, [rows.iloc[[i]] for i in range(len(rows))])
        result.update(latency_p50_ms=p50, latency_p99_ms=p99,
                      throughput_rows_s=rows_per_s(proba, batch, len(batch)))
        onnx = facts.pop("_onnx", None)
        if onnx is not None:
            result.update(onnx_measure(*onnx, rows, batch))
        result.update(facts)
        result["status"] = "ok"
    except BaseException as exc:  # noqa: BLE001 - the driver records the error row
        result.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000])
        traceback.print_exc()
    (args.out / "result.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, (dict, list))},
                     default=str))
    return 0 if result["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
