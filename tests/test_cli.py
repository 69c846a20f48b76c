"""The command line, as a user runs it: fit, predict, plugins, errors without tracebacks."""
from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from automl_guide.cli import main
from automl_guide.tables import load_table

from conftest import shop_frame

BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).parent / "fixtures"


def _cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "automl-guide"), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory, ray_session):
    """A small fitted run, rows to score and their predictions as `predict --out` writes them."""
    from automl_guide import fit_and_export

    folder = tmp_path_factory.mktemp("linear_run")
    fit_and_export(shop_frame(100, "binary"), "bought", models=["linear"], max_trials=1,
                   time_budget=None, out=folder / "run", quiet=True)
    rows = folder / "rows.csv"
    shop_frame(20, "binary", seed=3).drop(columns=["bought"]).to_csv(rows, index=False)
    assert main(["predict", str(folder / "run"), str(rows), "--out",
                 str(folder / "expected.csv")]) == 0
    return folder / "run", rows, pd.read_csv(folder / "expected.csv")


@pytest.mark.usefixtures("ray_session")
def test_fit_then_predict_in_process(tmp_path, capsys):
    data = tmp_path / "shop.csv"
    shop_frame(260, "binary").to_csv(data, index=False)
    assert main(["fit", str(data), "--target", "bought", "--max-trials", "7", "--time-budget",
                 "120", "--out", str(tmp_path / "run")]) == 0
    shown = capsys.readouterr()
    assert "Leaderboard" in shown.out and "Parity" in shown.out
    assert "trial   1" in shown.err and "best" in shown.err  # progress on stderr
    for name in ("model.onnx", "model_card.json", "leaderboard.csv"):
        assert (tmp_path / "run" / name).is_file()

    new = tmp_path / "new.parquet"
    shop_frame(30, "binary", seed=5).drop(columns=["bought"]).to_parquet(new)
    assert main(["predict", str(tmp_path / "run" / "model.onnx"), str(new), "--out",
                 str(tmp_path / "pred.csv")]) == 0
    predictions = pd.read_csv(tmp_path / "pred.csv")
    assert list(predictions.columns) == ["prediction", "proba_no", "proba_yes"]
    assert len(predictions) == 30 and set(predictions["prediction"]) <= {"yes", "no"}

    # a CSV's datetime column of bare years is years, as in serve, not seconds since 1970;
    # other numbers there are seconds since the epoch
    years = pd.read_parquet(new).assign(last_seen=pd.Timestamp("2024-01-01"))
    years.to_parquet(tmp_path / "years.parquet")
    years.assign(last_seen="2024").to_csv(tmp_path / "years.csv", index=False)
    years.assign(last_seen=1704067200).to_csv(tmp_path / "seconds.csv", index=False)
    assert load_table(tmp_path / "years.csv", dates=["last_seen"])["last_seen"].eq("2024").all()
    for name in ("years.parquet", "years.csv", "seconds.csv"):
        assert main(["predict", str(tmp_path / "run"), str(tmp_path / name), "--out",
                     str(tmp_path / f"{name}.pred.csv")]) == 0
    for name in ("years.csv", "seconds.csv"):
        assert pd.read_csv(tmp_path / f"{name}.pred.csv").equals(
            pd.read_csv(tmp_path / "years.parquet.pred.csv")), name

    assert main(["fit", str(data), "--target", "bought", "--max-trials", "1", "--out",
                 str(tmp_path / "run"), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err

    # predict --out never replaces a file silently, its own input least of all
    before = new.read_bytes()
    for out, said in ((new, "exists; choose another file or pass --overwrite"),
                      (tmp_path, "is a directory; name the CSV file to write"),
                      (new / "pred.csv", "File exists")):  # under a file: the system's error
        assert main(["predict", str(tmp_path / "run"), str(new), "--out", str(out)]) == 2
        assert said in capsys.readouterr().err
    assert new.read_bytes() == before
    assert main(["predict", str(tmp_path / "run"), str(new), "--out", str(tmp_path / "pred.csv"),
                 "--overwrite"]) == 0
    assert pd.read_csv(tmp_path / "pred.csv").equals(predictions)


def test_serve_refuses_a_port_out_of_range_by_name(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["serve", "model.onnx", "--port", "99999"])
    assert exit.value.code == 2
    assert "'99999' is no port: give a whole number from 0 to 65535" in capsys.readouterr().err


def test_demo_into_a_users_directory_keeps_a_run_there(tmp_path, capsys):
    """The demo replaces its own directory on every run, not a run in a directory the user
    names; refused before any work."""
    from automl_guide import features

    (tmp_path / "model.onnx").write_text("my model")
    real = features.fold_matrices
    features.fold_matrices = lambda *a, **k: pytest.fail("the demo began before refusing")
    try:
        assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 2
    finally:
        features.fold_matrices = real
    assert "already holds model.onnx" in capsys.readouterr().err
    assert main(["demo", "--shop", "--out", str(tmp_path), "--quiet"]) == 2
    assert "is not empty; choose another --out or pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "model.onnx").read_text() == "my model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_user_errors_print_one_line_and_no_traceback(tmp_path):
    data = tmp_path / "shop.csv"
    shop_frame(50, "binary").to_csv(data, index=False)
    result = _cli("fit", str(data), "--target", "nope", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()  # one line: no traceback, no log before it
    assert line.startswith("automl-guide: error: Target column 'nope' is not in the data")

    broken = shop_frame(10, "binary").drop(columns=["bought", "price"])
    broken.to_csv(tmp_path / "renamed.csv", index=False)
    result = _cli("predict", str(tmp_path / "missing.onnx"), str(tmp_path / "renamed.csv"))
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("automl-guide: error: No model file")


def test_a_path_the_system_refuses_is_one_line_and_exit_2(tmp_path, capsys):
    """No permission: /sys refuses a new directory to every user, root included (a chmod would
    not stop root, who runs CI)."""
    data = tmp_path / "shop.csv"
    shop_frame(60, "binary").to_csv(data, index=False)
    out = "/sys/automl_guide_test_run"
    assert main(["fit", str(data), "--target", "bought", "--max-trials", "1", "--out", out,
                 "--quiet"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"automl-guide: error: \[Errno (1|13)\] (Operation not permitted|"
                        rf"Permission denied): '{out}'", line), line
    under_a_file = data / "run"  # --out under a file: the system's error, one line
    assert main(["fit", str(data), "--target", "bought", "--max-trials", "1", "--out",
                 str(under_a_file), "--quiet"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"automl-guide: error: \[Errno 20\] Not a directory: "
                        rf"'{re.escape(str(under_a_file))}(/\.search)?'", line), line


def test_a_full_disk_while_predicting_keeps_the_old_file_and_is_one_line(linear_run, tmp_path,
                                                                         capsys, monkeypatch):
    """predict --out writes the CSV whole, then moves it into place: a disk that fills up half
    way leaves the old file as it was, and no temporary file beside it."""
    run, rows, expected = linear_run
    out = tmp_path / "predictions" / "scores.csv"
    out.parent.mkdir()
    out.write_text("yesterday's scores\n")
    write_bytes = Path.write_bytes

    def full_disk(path, payload):
        write_bytes(path, payload[: len(payload) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    assert main(["predict", str(run), str(rows), "--out", str(out), "--overwrite"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("automl-guide: error: [Errno 28] No space left on device")
    assert out.read_text() == "yesterday's scores\n"
    assert [p.name for p in out.parent.iterdir()] == ["scores.csv"]
    monkeypatch.undo()
    assert main(["predict", str(run), str(rows), "--out", str(out), "--overwrite"]) == 0
    assert pd.read_csv(out).equals(expected)


def test_a_write_that_fails_half_way_never_replaces_a_good_file(tmp_path, monkeypatch):
    from automl_guide.files import write_atomic

    path = tmp_path / "model.onnx"
    path.write_bytes(b"a good model")
    write_bytes = Path.write_bytes

    def crash(target, payload):
        write_bytes(target, payload[:3])
        raise KeyboardInterrupt  # a crash or a Ctrl-C half way

    monkeypatch.setattr(Path, "write_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b"a new model, longer")
    assert path.read_bytes() == b"a good model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left
    monkeypatch.undo()
    write_atomic(path, b"a new model, longer")
    assert path.read_bytes() == b"a new model, longer"


@pytest.mark.usefixtures("ray_session")
def test_a_run_whose_only_family_cannot_export_exits_2_with_one_message_and_a_leaderboard(
        tmp_path, capsys, monkeypatch):
    """The composition of before issue 28 (graphs merged at the opsets their converters
    chose) fails the ANN on a table of integers: the run says so in one message, keeps the
    leaderboard and names what to try."""
    from automl_guide import export
    from automl_guide.testing import sample_table

    monkeypatch.setattr(export, "same_opsets", lambda graphs: list(graphs))
    data = tmp_path / "pixels.csv"
    sample_table(200, "binary", kind="integer")[0].to_csv(data, index=False)
    out = tmp_path / "run"
    assert main(["fit", str(data), "--target", "bought", "--models", "ann", "--max-trials", "1",
                 "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    [message] = [line for line in err.splitlines()  # one line; warnings may come before it
                 if not line.startswith("automl-guide: warning:")]
    assert message.startswith("automl-guide: error: The ann model (its best trial ranked 1) "
                              "could not be exported as ONNX: Could not convert KerasMLP to "
                              "ONNX: ValueError: Can't merge two models with different operator "
                              "set ids"), err
    assert (f"The leaderboard is in {out / 'leaderboard.csv'}. Try other model families with "
            "--models (models= in Python), or every family by leaving it out;") in message
    assert "Traceback" not in err
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["model"].tolist() == ["ann"] and board["status"].tolist() == ["ok"]
    assert not (out / "model.onnx").exists()


def test_plugins_lists_name_kind_distribution_version():
    result = _cli("plugins")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "KIND", "DISTRIBUTION", "VERSION"]
    rows = {line.split()[0]: line.split()[1:4] for line in lines[1:]}
    assert rows["xgboost"] == ["model", "automl-guide", "0.1.0"]
    assert rows["categorical"][0] == "feature" and rows["grid"][0] == "searcher"


def test_third_party_plugins_installed_with_pip_are_listed_broken_or_not_and_can_be_disabled(
        tmp_path):
    """A working plugin package and one whose module fails to import (a dependency it forgot):
    the broken one is warned about and listed as BROKEN with its distribution and error, and
    every other plugin still loads. (A third-party plugin through a whole fit:
    tests/test_example_plugin.py.)"""
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(FIXTURES / "ext_plugin"), str(FIXTURES / "broken_plugin")],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    listed = _cli("plugins", env=env)
    assert listed.returncode == 0, listed.stderr
    knn = [line.split()[:4] for line in listed.stdout.splitlines() if line.startswith("knn ")]
    assert knn == [["knn", "model", "ext-guide-plugin", "1.2.3"]]
    assert {"xgboost", "ann", "numeric", "random"} <= {
        line.split()[0] for line in listed.stdout.splitlines()}
    error = ("import failed: ModuleNotFoundError: No module named 'a_library_nobody_installed'")
    assert f"BROKEN lookalike (broken-guide-plugin 0.4.0): {error}" in listed.stdout.splitlines()
    assert listed.stderr.splitlines() == [
        "automl-guide: warning: plugin 'lookalike' (distribution broken-guide-plugin 0.4.0) was "
        f"skipped: {error}"]

    hidden = _cli("plugins", env={**env, "AUTOML_GUIDE_DISABLE_EXTERNAL_PLUGINS": "1"})
    names = [line.split()[0] for line in hidden.stdout.splitlines() if line.strip()]
    assert "knn" not in names and "BROKEN" not in names and "xgboost" in names
    assert hidden.stderr == ""


def _heavy_modules_after(code: str, names: tuple[str, ...]) -> str:
    """Run ``code`` in a fresh interpreter; which of ``names`` did it import?"""
    probe = f"{code}; import sys; print(sorted(m for m in {names!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# A fresh interpreter in which only the given top-level modules (and the standard library) can
# be imported: others fail as if they were not installed, the way optional imports expect.
_ONLY_THESE_INSTALLED = """
import importlib.abc, importlib.machinery, json, os, sys, sysconfig
allowed = set(json.loads(sys.argv[1]))
stdlib = [sysconfig.get_paths()["stdlib"], os.path.join(sysconfig.get_paths()["stdlib"],
                                                        "lib-dynload")]

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if (top in allowed or top in sys.stdlib_module_names
                or importlib.machinery.PathFinder.find_spec(top, stdlib)):
            return None
        raise ModuleNotFoundError(f"No module named {name!r} (not in the runtime)", name=name)

sys.meta_path.insert(0, NotInstalled())
from automl_guide.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _runtime_modules(*distributions: str) -> set[str]:
    """The top-level modules of ``distributions`` and of everything they require (extras not
    asked for left out), as installed here."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    wanted, todo = set(), [canonicalize_name(d) for d in distributions]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return {module for module, dists in metadata.packages_distributions().items()
            if any(canonicalize_name(d) in wanted for d in dists)}


def test_predict_runs_with_only_onnxruntime_numpy_pandas_and_pandera(linear_run, tmp_path):
    """cli.md: predict needs only onnxruntime, numpy, pandas and pandera (and pluggy, which
    `import automl_guide` loads for plugins' hookimpl). The command runs in an interpreter where
    nothing else can be imported: scikit-learn, onnx, ray, pyarrow and the rest fail as if they
    were not installed."""
    run, rows, expected = linear_run
    allowed = _runtime_modules("onnxruntime", "numpy", "pandas", "pandera", "pluggy")
    assert not allowed & {"sklearn", "onnx", "skl2onnx", "ray", "torch", "xgboost", "pyarrow",
                          "scipy"}
    out = tmp_path / "scores.csv"
    done = subprocess.run([sys.executable, "-c", _ONLY_THESE_INSTALLED,
                           json.dumps(sorted(allowed | {"automl_guide"})), "predict", str(run),
                           str(rows), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert pd.read_csv(out).equals(expected)
    without_onnxruntime = subprocess.run(
        [sys.executable, "-c", _ONLY_THESE_INSTALLED,
         json.dumps(sorted(allowed - {"onnxruntime"} | {"automl_guide"})), "predict", str(run),
         str(rows)], capture_output=True, text=True, timeout=120)
    assert "No module named 'onnxruntime' (not in the runtime)" in without_onnxruntime.stderr


def test_import_and_predict_path_load_no_heavy_libraries():
    code = "import automl_guide, automl_guide.cli, automl_guide.predictor, automl_guide.data"
    assert _heavy_modules_after(
        code, ("ray", "sklearn", "onnx", "skl2onnx", "xgboost", "torch")) == "[]"


def test_loading_every_plugin_imports_neither_torch_nor_keras():
    code = ("from automl_guide import load_registry; r = load_registry();"
            "assert 'ann' in r.models, sorted(r.models)")
    assert _heavy_modules_after(code, ("torch", "keras", "optuna", "ray")) == "[]"


def test_the_shop_command_passes_its_prediction_time_limit_on():
    from automl_guide.cli import shop_kwargs, build_parser

    args = build_parser().parse_args(["shop", "tables/", "--max-predict-us", "5"])
    assert shop_kwargs(args)["max_predict_us"] == 5.0


def test_the_shop_demo_refuses_fit_options_it_would_ignore(capsys, monkeypatch):
    """`demo --shop` fits shop tables: --codes or --metric would change nothing, so they are
    refused by name before any work (the shop demo itself is never reached here)."""
    from automl_guide import cli

    monkeypatch.setattr(cli, "run_shop_demo", lambda args: pytest.fail("the demo ran"))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--shop", "--codes", "store", "--metric", "f1"])
    assert exit_.value.code == 2
    assert "demo --shop does not use --codes, --metric:" in capsys.readouterr().err


def test_the_summary_tells_failed_trials_from_those_stopped_at_a_time_limit(tmp_path, capsys):
    import types

    from automl_guide.cli import show

    board = pd.DataFrame({"model": ["linear", "svm", "ann"], "roc_auc": [0.9, None, None],
                          "status": ["ok", "error", "timeout"], "config": "{}",
                          "trial_id": ["1", "2", "3"], "node": "",
                          "error": ["", "ValueError: boom", "the time budget ran out"]})
    card = {"test_metrics": {}, "best": {"model": "linear"},
            "parity": {"label_agreement": None, "rows": 5, "max_abs_diff": 0.0}}
    show(types.SimpleNamespace(leaderboard=board, onnx_path=tmp_path / "model.onnx", card=card))
    assert "3 trials, 1 failed, 1 stopped at a time limit. Full leaderboard" in \
        capsys.readouterr().out


def test_predict_with_the_table_first_says_the_model_comes_first(tmp_path, capsys):
    """Swapped arguments were a raw protobuf error from onnxruntime."""
    table = tmp_path / "rows.csv"
    shop_frame(5, "binary").to_csv(table, index=False)
    assert main(["predict", str(table), str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"automl-guide: error: {table} looks like a table, not a model: the model comes first "
        f"(automl-guide predict MODEL DATA, here: predict {tmp_path / 'run'} {table}).")
