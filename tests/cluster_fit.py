"""Run by tests/test_cluster.py in its own process: a real three-node Ray cluster on this machine
(a head and two workers, one CPU each), and a fit that joins it through RAY_ADDRESS."""
from __future__ import annotations

import json
import os
import sys
import time

from ray.cluster_utils import Cluster

sys.path.insert(0, os.path.dirname(__file__))
from conftest import shop_frame  # noqa: E402


def main() -> None:
    start = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    os.environ["RAY_ADDRESS"] = cluster.address
    started = time.monotonic() - start
    try:
        import ray

        from automl_guide import fit_and_export

        # Trials of a few seconds each: long enough that Tune starts an actor on every node
        # rather than reusing the first one for quick trials.
        result = fit_and_export(shop_frame(2000, "binary", seed=4), "bought",
                                models=["random_forest", "extra_trees", "xgboost"],
                                max_trials=9, time_budget=None, out=sys.argv[1], quiet=True)
        nodes = sorted(n["NodeID"][:12] for n in ray.nodes() if n["Alive"])
        board = result.leaderboard
        print(json.dumps({
            "cluster_nodes": nodes, "trial_nodes": sorted(set(board["node"])),
            "statuses": sorted(set(board["status"])), "trials": len(board),
            "parity": result.card["parity"]["passed"], "best": result.card["best"]["model"],
            "start_seconds": round(started, 1)}))
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
