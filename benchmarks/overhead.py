"""Ray Tune overhead: the same configurations through automl-guide's search and a plain loop.

    python benchmarks/overhead.py [--trials 30] [--rows 6000]

The configurations are the first ones the ``random`` searcher proposes on the bundled demo data
(each family's default, then random samples). Prints trials per minute for (a) a plain sequential
Python loop, (b) a plain loop over as many worker processes as the machine has CPUs (joblib), and
(c) automl-guide's Ray Tune search (Ray already started; its start-up time is printed apart). All
three call the same ``automl_guide.trial.evaluate_config`` on the same preprocessed folds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import resources

import numpy as np

# SVM is left out: its fit time grows so fast with rows that it would dominate both loops.
MODELS = ["linear", "decision_tree", "random_forest", "extra_trees", "xgboost"]


class FixedList:
    """A searcher that proposes a given list of configurations, in order."""

    def __init__(self, configs):
        self.configs = list(configs)

    def suggest(self, trial_id):
        return self.configs.pop(0) if self.configs else None

    def on_trial_complete(self, trial_id, result=None, error=False):
        pass


def configurations(n: int, specs, n_rows: int, seed: int = 0) -> list[dict]:
    """The first ``n`` configurations the ``random`` searcher proposes for this data: every
    family's default, then random samples; exactly what a real run would try."""
    from automl_guide import SearchProblem, load_registry

    problem = SearchProblem({k: dict(s.search_space("binary", n_rows)) for k, s in specs.items()},
                            {k: dict(s.default_config("binary", n_rows)) for k, s in specs.items()},
                            "roc_auc", "max", seed, n)
    searcher = load_registry().searcher("random").build(problem)
    return [searcher.suggest(str(i)) for i in range(n)]


def trial_data(rows: int):
    import pandas as pd

    from automl_guide import load_registry
    from automl_guide.families import model_specs
    from automl_guide.features import fold_matrices
    from automl_guide.data import prepare
    from automl_guide.splits import validation_splits
    from automl_guide.metrics import get_metric
    from automl_guide.pipeline import feature_plan

    path = resources.files("automl_guide.datasets").joinpath("clothing_reviews.csv")
    frame = pd.read_csv(path).head(rows)
    dataset = prepare(frame, "Recommended IND")
    registry = load_registry()
    specs = model_specs(registry, MODELS, dataset.task)
    index = np.arange(len(dataset.y))
    splits = validation_splits(dataset.y, dataset.task, "holdout", 5, 0)
    data = fold_matrices(dataset, index, splits, feature_plan(registry, dataset.columns), specs,
                       get_metric(None, dataset.task), 0)
    return data, specs, len(index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rows", type=int, default=6000)
    args = parser.parse_args()
    from joblib import Parallel, delayed

    from automl_guide.trial import evaluate_config

    data, specs, n_rows = trial_data(args.rows)
    configs = configurations(args.trials, specs, n_rows)
    cpus = os.cpu_count()

    start = time.perf_counter()
    plain = [evaluate_config(c, data) for c in configs]
    t_plain = time.perf_counter() - start

    start = time.perf_counter()
    Parallel(n_jobs=cpus)(delayed(evaluate_config)(c, data) for c in configs)
    t_joblib = time.perf_counter() - start

    from automl_guide import search

    start = time.perf_counter()
    search.ensure_ray()
    t_init = time.perf_counter() - start
    start = time.perf_counter()
    records = search.run_search(data, FixedList(configs), deadline=None,
                                max_trials=len(configs))
    t_tune = time.perf_counter() - start

    assert len(records) == len(configs) and all(r.status == "ok" for r in records), records
    assert sorted(round(r.score, 6) for r in records) == sorted(round(p["score"], 6) for p in plain)
    rate = lambda seconds: 60.0 * len(configs) / seconds  # noqa: E731
    print(f"{len(configs)} trials on {args.rows} rows, {cpus} CPUs "
          f"(mean fit {np.mean([p['fit_seconds'] for p in plain]):.2f} s)")
    print(f"{'runner':<34}{'seconds':>9}{'trials/min':>12}")
    print(f"{'plain loop (sequential)':<34}{t_plain:9.1f}{rate(t_plain):12.1f}")
    print(f"{'plain loop (joblib, ' + str(cpus) + ' workers)':<34}{t_joblib:9.1f}{rate(t_joblib):12.1f}")
    print(f"{'automl-guide on Ray Tune':<34}{t_tune:9.1f}{rate(t_tune):12.1f}")
    print(f"ray.init: {t_init:.1f} s (once per process, not counted above)")
    print(f"Ray Tune / sequential loop: {t_plain / t_tune:.2f}; "
          f"Ray Tune / joblib loop: {t_joblib / t_tune:.2f}")


if __name__ == "__main__":
    sys.exit(main())
