"""Searchers and ASHA under fixed budgets: the best validation score reached after T seconds.

    make bench-data                          # once: the packages holding the real datasets
    .venv/bin/python benchmarks/search.py    # bank, books, toyota; seeds 0-2; 15/30/60 s

For every dataset, seed, searcher (``random``, ``grid``, ``tpe`` by default) and scheduler
(``none``, ``asha``) the search stage runs for the largest budget on the same preprocessed
validation splits (seeded), all model families included; the best validation score among trials
finished by each checkpoint is read off the trials' finishing times, so one run gives every
budget. Prints the runs as CSV lines (``--csv`` writes them too), then per checkpoint a table of
mean scores over seeds and the mean rank of each searcher/scheduler pair over datasets and seeds
(1 = best). Ray starts once; its start-up is not counted.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DATASETS  # noqa: E402


def prepared(name: str, seed: int):
    """Trial data for one dataset and seed, exactly as a run would build it."""
    from automl_guide import load_registry
    from automl_guide.families import model_specs
    from automl_guide.features import fold_matrices
    from automl_guide.data import prepare
    from automl_guide.splits import test_split, validation_splits
    from automl_guide.metrics import get_metric
    from automl_guide.pipeline import feature_plan

    bench = DATASETS[name]
    registry = load_registry()
    dataset = prepare(bench.load(), bench.target, bench.task)
    metric = get_metric(None, dataset.task)
    specs = model_specs(registry, None, dataset.task)
    train, _ = test_split(dataset.y, dataset.task, 0.2, seed)
    splits = validation_splits(dataset.y[train], dataset.task, "auto", 5, seed)
    plan = feature_plan(registry, dataset.columns)
    return registry, specs, metric, lambda stages: fold_matrices(
        dataset, train, splits, plan, specs, metric, seed, stages)


def one_run(registry, specs, metric, make_data, searcher: str, scheduler: str, seed: int,
            seconds: float) -> list:
    from automl_guide import SearchProblem
    from automl_guide.engine import ASHA_STAGES
    from automl_guide.search import run_search

    data = make_data(ASHA_STAGES if scheduler == "asha" else 1)
    n_rows = len(data.folds[next(iter(data.folds))][0].y_train)
    problem = SearchProblem(
        spaces={n: dict(s.search_space(data.task, n_rows)) for n, s in specs.items()},
        defaults={n: dict(s.default_config(data.task, n_rows)) for n, s in specs.items()},
        metric=metric.name, mode=metric.mode, seed=seed, max_trials=None)
    search = registry.searcher(searcher).build(problem)
    return run_search(data, search, deadline=time.monotonic() + seconds, max_trials=None,
                      scheduler=scheduler, mode=metric.mode, trial_time_limit=seconds / 2)


def best_by(records, t: float, metric) -> float:
    scores = [r.score for r in records if r.status == "ok" and not r.early_stopped
              and r.finished_at <= t and math.isfinite(r.score)]
    if not scores:
        return float("nan")
    return max(scores) if metric.mode == "max" else min(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="bank,books,toyota")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--searchers", default="random,grid,tpe")
    parser.add_argument("--schedulers", default="none,asha")
    parser.add_argument("--checkpoints", default="15,30,60", help="seconds of search")
    parser.add_argument("--csv", help="also write the per-run rows here")
    args = parser.parse_args()
    checkpoints = [float(c) for c in args.checkpoints.split(",")]
    pairs = list(itertools.product(args.searchers.split(","), args.schedulers.split(",")))

    import warnings

    warnings.filterwarnings("ignore")
    from automl_guide import search

    search.ensure_ray()
    rows = []
    print("dataset,seed,searcher,scheduler,trials,early_stopped,"
          + ",".join(f"best@{c:g}s" for c in checkpoints), flush=True)
    for name in args.datasets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            registry, specs, metric, make_data = prepared(name, seed)
            for searcher, scheduler in pairs:
                records = one_run(registry, specs, metric, make_data, searcher, scheduler, seed,
                                  max(checkpoints))
                row = {"dataset": name, "metric": metric.name, "mode": metric.mode,
                       "seed": seed, "searcher": searcher, "scheduler": scheduler,
                       "trials": len(records),
                       "early_stopped": sum(r.early_stopped for r in records),
                       **{f"best@{c:g}s": best_by(records, c, metric) for c in checkpoints}}
                rows.append(row)
                print(",".join(str(row[k]) if not isinstance(row[k], float) else f"{row[k]:.5f}"
                               for k in ["dataset", "seed", "searcher", "scheduler", "trials",
                                         "early_stopped"] + [f"best@{c:g}s" for c in checkpoints]),
                      flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    summarize(rows, checkpoints, pairs)


def summarize(rows: list[dict], checkpoints: list[float], pairs: list[tuple[str, str]]) -> None:
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    labels = [f"{s}+{'asha' if sc == 'asha' else 'fifo'}" for s, sc in pairs]
    for c in checkpoints:
        key = f"best@{c:g}s"
        print(f"\n### Best validation score after {c:g} s of search (mean over seeds)\n")
        print("| dataset (metric) | " + " | ".join(labels) + " |")
        print("|---|" + "---|" * len(labels))
        for name in datasets:
            metric = next(r["metric"] for r in rows if r["dataset"] == name)
            cells = []
            for searcher, scheduler in pairs:
                values = [r[key] for r in rows if r["dataset"] == name
                          and r["searcher"] == searcher and r["scheduler"] == scheduler]
                cells.append(f"{np.nanmean(values):.4f}" if values else "-")
            print(f"| {name} ({metric}) | " + " | ".join(cells) + " |")
        ranks = {label: [] for label in labels}
        for name in datasets:
            for seed in sorted({r["seed"] for r in rows}):
                group = [r for r in rows if r["dataset"] == name and r["seed"] == seed]
                if len(group) != len(pairs):
                    continue
                sign = -1.0 if group[0]["mode"] == "max" else 1.0
                values = np.array([sign * r[key] if math.isfinite(r[key]) else np.inf
                                   for r in group])
                order = rankdata(values, method="average")  # ties (no trial yet) share
                for r, rank in zip(group, order):
                    label = f"{r['searcher']}+{'asha' if r['scheduler'] == 'asha' else 'fifo'}"
                    ranks[label].append(rank)
        print("| mean rank (1 = best) | " + " | ".join(
            f"{np.mean(ranks[label]):.2f}" if ranks[label] else "-" for label in labels) + " |")


if __name__ == "__main__":
    main()
