"""Which training set-up ranks MovieLens best? A study outside the search, to choose defaults.

    .venv/bin/python benchmarks/shop_ranking_study.py [--dataset movielens] [--stride 7 30]

For each of the shop benchmark's test cutoffs (shop.py), the training tables are built with the
shop layer itself (features strictly before each cutoff, labels in the horizon after it) and
several learners are fitted directly, without Ray or a time budget:

- cutoff stride: training cutoffs one horizon apart (the default) or ``--stride`` days apart
  (overlapping label windows; every window still ends by the test cutoff);
- negatives: 10 sampled per bought candidate, or every candidate;
- learners (``--learners``): logistic regression, HistGradientBoosting, LightGBM binary and
  lambdarank, XGBoost binary, ``rank:ndcg`` and ``rank:pairwise``, and bags of five rankers.

What it found on MovieLens (2026-11-30, pooled over the three test months, recent popularity
0.1903 / 0.6190), ``--stride 30 --negatives 10 --seed 0..3 --learners logistic xgb_binary
xgb_rank_ndcg``: XGBoost ``rank:ndcg`` 0.209-0.219 NDCG@10 and 0.634-0.663 HitRate@10, the same
trees as a binary classifier 0.201-0.206 and 0.604-0.626, logistic regression 0.192-0.198 and
0.593-0.608. Earlier runs (other feature versions) showed: monthly cutoffs beat
weekly or fortnightly ones; 10 or 20 negatives per positive beat 3, 5 or every candidate.

Every test customer's candidates are then ranked in full and pooled NDCG@10 / HitRate@10 are
printed next to the two popularity baselines.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shop  # noqa: E402

from automl_guide.shop import evaluate as ranking  # noqa: E402
from automl_guide.registry import load_registry  # noqa: E402
from automl_guide.shop.history import (CandidateSettings, TableSettings, build_table,  # noqa: E402
                               feature_columns, popularity, to_timedelta)
from automl_guide.shop.evaluate import held_out_truth  # noqa: E402
from automl_guide.shop.load import load_shop  # noqa: E402


def learners(seed: int) -> dict:
    from lightgbm import LGBMClassifier, LGBMRanker
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier, XGBRanker

    lgbm = dict(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=50,
                subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                verbose=-1)
    class Bag:
        def __init__(self, make, n):
            self.models = [make(seed + i) for i in range(n)]

        def fit(self, X, y, **kw):
            for m in self.models:
                m.fit(X, y, **kw)
            return self

        def predict(self, X):
            from scipy.stats import rankdata
            return np.mean([rankdata(m.predict(X)) for m in self.models], axis=0)

    xgb_rank = lambda s: XGBRanker(objective="rank:ndcg", n_estimators=300,  # noqa: E731
                                   learning_rate=0.03, max_depth=4, min_child_weight=5,
                                   subsample=0.8, colsample_bytree=0.8, random_state=s)
    return {
        "xgb_rank_bag5": lambda: Bag(xgb_rank, 5),
        "lgbm_rank_bag5": lambda: Bag(lambda s: LGBMRanker(**{**lgbm, "random_state": s},
                                                           lambdarank_truncation_level=20), 5),
        "logistic": lambda: make_pipeline(SimpleImputer(), StandardScaler(),
                                          LogisticRegression(max_iter=2000)),
        "hist_gb": lambda: HistGradientBoostingClassifier(random_state=seed),
        "lgbm_binary": lambda: LGBMClassifier(**lgbm),
        "lgbm_lambdarank": lambda: LGBMRanker(**lgbm, lambdarank_truncation_level=20),
        "xgb_rank_ndcg": lambda: XGBRanker(objective="rank:ndcg", n_estimators=300,
                                           learning_rate=0.03, max_depth=4, min_child_weight=5,
                                           subsample=0.8, colsample_bytree=0.8,
                                           random_state=seed),
        "xgb_binary": lambda: XGBClassifier(n_estimators=300, learning_rate=0.03, max_depth=4,
                                            min_child_weight=5, subsample=0.8,
                                            colsample_bytree=0.8, random_state=seed),
        "xgb_rank_pairwise": lambda: XGBRanker(objective="rank:pairwise", n_estimators=300,
                                               learning_rate=0.03, max_depth=4,
                                               min_child_weight=5, subsample=0.8,
                                               colsample_bytree=0.8, random_state=seed),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="movielens", choices=["movielens", "instacart"])
    parser.add_argument("--stride", type=int, nargs="+", default=[7, 30],
                        help="days between training cutoffs")
    parser.add_argument("--negatives", type=int, nargs="+", default=[10, 0],
                        help="sampled negatives per bought candidate; 0 keeps all")
    parser.add_argument("--max-cutoffs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--learners", nargs="+", help="default: all")
    args = parser.parse_args(argv)

    options = shop.RUNS[args.dataset]
    data = load_shop(options["load"]())
    registry = load_registry()
    horizon = to_timedelta(options["horizon"])
    settings = TableSettings(replace(CandidateSettings(**options.get("candidates", {})),
                                     exclude_bought=args.dataset == "movielens"),
                             10, positive_customers_only=True, per_positive=True)
    tests = options.get("test_cutoffs") or [data.end - horizon]
    cache: dict = {}

    def table(cutoff, negatives):
        key = (cutoff, negatives)
        if key not in cache:
            chosen = replace(settings, negatives=negatives or None)
            cache[key] = build_table(data, cutoff, horizon, registry, settings=chosen,
                                     seed=args.seed)
        return cache[key]

    results = []
    for test in tests:
        relevant, before, _ = held_out_truth(data, test, horizon, settings.candidates.exclude_bought)
        evaluation = build_table(data, test, horizon, registry, customers=sorted(relevant),
                                 settings=settings.every_candidate())
        history = data.history(test)
        for name, days in (("popularity (all)", None), ("popularity (30 days)", 30)):
            ranked = ranking.popularity_ranking(popularity(history, days).index, sorted(relevant),
                                                10, before if settings.candidates.exclude_bought
                                                else None)
            results.append({"test": test, "setup": "-", "learner": name,
                            **ranking.ranking_metrics(ranked, relevant, 10)})
        for stride in args.stride:
            cutoffs = [test - horizon - pd.Timedelta(days=stride * i)
                       for i in range(args.max_cutoffs)]
            cutoffs = sorted(c for c in cutoffs if c > data.start + horizon / 2)
            for negatives in args.negatives:
                start = time.monotonic()
                train = pd.concat([table(c, negatives) for c in cutoffs], ignore_index=True)
                columns = [c for c in feature_columns(train) if train[c].nunique() > 1]
                built = time.monotonic() - start
                groups = train.groupby(["cutoff", "customer_id"], sort=False).size().to_numpy()
                for learner, make in learners(args.seed).items():
                    if args.learners and learner not in args.learners:
                        continue
                    start = time.monotonic()
                    model = make()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        if "rank" in learner:
                            model.fit(train[columns], train["label"], group=groups)
                            score = model.predict(evaluation[columns])
                        else:
                            model.fit(train[columns], train["label"])
                            score = model.predict_proba(evaluation[columns])[:, 1]
                    metrics = ranking.ranking_metrics(
                        ranking.top_k_by_score(evaluation, score, 10), relevant, 10)
                    setup = f"stride {stride} d, " + (
                        f"{negatives} neg/pos" if negatives else "all candidates")
                    results.append({"test": test, "setup": setup, "learner": learner,
                                    "rows": len(train), "build_s": round(built, 1),
                                    "fit_s": round(time.monotonic() - start, 1), **metrics})
                    print(f"{test:%Y-%m-%d} {setup:40s} {learner:16s} "
                          f"ndcg {metrics['ndcg@10']:.4f} hr {metrics['hit_rate@10']:.4f}",
                          flush=True)
    frame = pd.DataFrame(results)
    w = frame["customers"]
    pooled = (frame.assign(n=frame["ndcg@10"] * w, h=frame["hit_rate@10"] * w)
              .groupby(["setup", "learner"], sort=False)
              .agg(n=("n", "sum"), h=("h", "sum"), w=("customers", "sum"),
                   rows=("rows", "mean"), fit_s=("fit_s", "mean")))
    pooled["ndcg@10"] = pooled.pop("n") / pooled["w"]
    pooled["hit_rate@10"] = pooled.pop("h") / pooled["w"]
    print(f"\n{args.dataset}: pooled over {len(tests)} test cutoffs "
          f"({int(frame[frame.setup == '-'].customers.sum() / 2)} customers)")
    print(pooled.drop(columns="w").to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
