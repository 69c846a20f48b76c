"""Single-row latency of automl-guide's exported graph and FLAML's native predict_proba, measured
again side by side in fresh processes, after `peers.py` has run (it reads that run's artifacts).

    .venv/bin/python benchmarks/latency_recheck.py --dataset instacart_reorder --budget 300

`peers.py` measures each system once, in the process that fitted it. On a 2-core machine a
sub-millisecond figure moves by up to 2x from one process to the next (memory placement, other
tenants), so this script alternates the two systems, ``--repeats`` fresh processes each, each
process timing the same 200 test rows one at a time after 20 untimed calls (as peer_runner.py
does), and prints every p50 and the range of FLAML / automl-guide. automl-guide is timed twice:
its graph in a bare onnxruntime session fed ready-made arrays (``automl_guide``), and
``automl_guide.load(...).predict_proba`` on one-row DataFrames, checks included
(``automl_guide_api``: what a Python service calls).

``--anatomy`` times, in each fresh process, three graphs on the same rows instead: the exported
graph, the same graph with every tree ensemble cut to its first tree (the preprocessing and a
tree), and an Identity graph over the same seven-or-so inputs (onnxruntime's cost of a run from
Python, whatever the model). The differences say where a call's time goes.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WARMUP, ROWS = 20, 200

CHILD = {
    "automl_guide": """
import sys, time, numpy as np, pandas as pd, onnxruntime as ort
import automl_guide
from automl_guide.columns import onnx_feeds
model, rows = sys.argv[1], pd.read_parquet(sys.argv[2]).head({rows})
columns = automl_guide.load(model).columns
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
calls = [onnx_feeds(rows.iloc[[i]], columns) for i in range(len(rows))]
run = lambda feed: session.run(["probabilities"], feed)
""",
    "automl_guide_api": """
import sys, time, warnings, numpy as np, pandas as pd
import automl_guide
predictor = automl_guide.load(sys.argv[1])
rows = pd.read_parquet(sys.argv[2]).head({rows}).drop(columns=[sys.argv[3]])
calls = [rows.iloc[[i]] for i in range(len(rows))]
warnings.simplefilter("ignore")  # drift notes: warned once, not what is timed
run = predictor.predict_proba
""",
    "flaml": """
import sys, time, pickle, numpy as np, pandas as pd
with open(sys.argv[1], "rb") as handle:
    automl = pickle.load(handle)
rows = pd.read_parquet(sys.argv[2]).head({rows}).drop(columns=[sys.argv[3]])
calls = [rows.iloc[[i]] for i in range(len(rows))]
run = automl.predict_proba
""",
}
ANATOMY = """
import copy, sys, time, numpy as np, onnx, pandas as pd, onnxruntime as ort
from onnx import helper
import automl_guide
from automl_guide.columns import onnx_feeds
model, rows = onnx.load(sys.argv[1]), pd.read_parquet(sys.argv[2]).head({rows})
columns = automl_guide.load(sys.argv[1]).columns
calls = [onnx_feeds(rows.iloc[[i]], columns) for i in range(len(rows))]
one_tree = copy.deepcopy(model)
for node in one_tree.graph.node:
    if not node.op_type.startswith("TreeEnsemble"):
        continue
    attrs = {{a.name: a for a in node.attribute}}
    for prefix in ("nodes_", "class_", "target_"):
        if prefix + "treeids" not in attrs:
            continue
        keep = [i for i, t in enumerate(attrs[prefix + "treeids"].ints) if t == 0]
        for name, attr in attrs.items():
            if name.startswith(prefix) and name != "classlabels_int64s":
                for field in ("ints", "floats", "strings"):
                    values = list(getattr(attr, field))
                    if values:
                        del getattr(attr, field)[:]
                        getattr(attr, field).extend(values[i] for i in keep)
first = model.graph.input[0]
identity = helper.make_model(helper.make_graph(
    [helper.make_node("Identity", [first.name], ["probabilities"])], "feed",
    list(model.graph.input), [helper.make_tensor_value_info(
        "probabilities", first.type.tensor_type.elem_type, None)]),
    opset_imports=[helper.make_opsetid("", 17)])
p50 = []
for graph in (model, one_tree, identity):
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    run = lambda feed: session.run(["probabilities"], feed)
    for call in calls[:{warmup}]:
        run(call)
    times = []
    for call in calls:
        start = time.perf_counter_ns(); run(call); times.append((time.perf_counter_ns() - start) / 1e6)
    p50.append(np.percentile(times, 50))
print(*p50)
"""
TIMING = """
for call in calls[:{warmup}]:
    run(call)
times = []
for call in calls:
    start = time.perf_counter_ns(); run(call); times.append((time.perf_counter_ns() - start) / 1e6)
print(np.percentile(times, 50))
"""


def measure(system: str, dataset: str, budget: int, target: str, seed: int,
            run: str | None = None) -> float:
    ours = system.startswith("automl_guide")
    run_dir = HERE / ".work" / "runs" / dataset / ((run or "automl_guide") if ours else system) \
        / f"b{budget}_s{seed}"
    artifact = run_dir / ("run/model.onnx" if ours else "automl.pkl")
    python = (sys.executable if ours
              else str(HERE / ".venvs" / system / "bin" / "python"))
    code = CHILD[system].format(rows=ROWS) + TIMING.format(warmup=WARMUP)
    test = HERE / ".work" / dataset / f"seed{seed}" / "test.parquet"
    out = subprocess.run([python, "-c", code, str(artifact), str(test), target],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def anatomy(dataset: str, budget: int, seed: int, run: str, repeats: int) -> None:
    """Per fresh process: the exported graph, its one-tree cut and a bare run, p50 in ms."""
    model = HERE / ".work" / "runs" / dataset / run / f"b{budget}_s{seed}" / "run" / "model.onnx"
    test = HERE / ".work" / dataset / f"seed{seed}" / "test.parquet"
    code = ANATOMY.format(rows=ROWS, warmup=WARMUP)
    rows = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code, str(model), str(test)],
                             capture_output=True, text=True, check=True)
        rows.append([float(v) * 1000 for v in out.stdout.split()])
        time.sleep(1.0)
    print(f"{model.relative_to(HERE.parent)}: single-row p50 in microseconds per process")
    print("  whole graph | trees cut to one | bare run, same inputs | other trees | "
          "preprocessing and one tree")
    for whole, cut, bare in rows:
        print(f"  {whole:11.0f} | {cut:16.0f} | {bare:21.0f} | {whole - cut:11.0f} | "
              f"{cut - bare:26.0f}")
    whole, cut, bare = np.median(np.array(rows), axis=0)
    print(f"  median: whole {whole:.0f} = bare run {bare:.0f} + preprocessing and one tree "
          f"{cut - bare:.0f} + the other trees {whole - cut:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="instacart_reorder")
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--target", default=None, help="the target column (default: the "
                        "dataset's, from datasets.py)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run", default="automl_guide", help="automl-guide's run under "
                        ".work/runs/DATASET/ (e.g. one made by peer_runner.py --max-predict-us)")
    parser.add_argument("--anatomy", action="store_true",
                        help="automl-guide's graph only: where a call's time goes")
    args = parser.parse_args(argv)
    if args.anatomy:
        anatomy(args.dataset, args.budget, args.seed, args.run, args.repeats)
        return 0
    target = args.target
    if target is None:
        sys.path.insert(0, str(HERE))
        from datasets import DATASETS

        target = DATASETS[args.dataset].target
    p50 = {"automl_guide": [], "automl_guide_api": [], "flaml": []}
    for _ in range(args.repeats):
        for system in p50:
            p50[system].append(measure(system, args.dataset, args.budget, target, args.seed,
                                       args.run))
            time.sleep(1.0)
    for system, values in p50.items():
        print(f"{system:16s} p50 ms per process: " + ", ".join(f"{v:.3f}" for v in values))
    for system, what in (("automl_guide", "ONNX"), ("automl_guide_api", "Python API")):
        ratios = np.array(p50["flaml"])[:, None] / np.array(p50[system])[None, :]
        print(f"FLAML / automl-guide {what}: {ratios.min():.0f}x to {ratios.max():.0f}x "
              f"(median {np.median(ratios):.0f}x) over {ratios.size} process pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
