"""Every command in a code block of README.md and docs/getting-started.md runs as written, on
the bundled data, in a fresh directory laid out as the clone is (the reviews CSV at
``automl_guide/datasets/``, ``examples/``): each page's Python blocks in one namespace, and its
shell lines, in the page's order. ``automl-guide`` commands run through the CLI in this process
(sharing the test session's Ray), ``make`` targets as the Makefile's recipe, ``serve`` as a
process of its own on a free port that the ``curl`` line (sent with httpx) asks. What is not run
here is named: installing (``make setup``, ``pip install``, ``source``: this environment is
their result), ``make test`` (this suite) and ``make docs`` (tests/test_docs.py builds the site).

Only the searches are shortened: each is capped at one trial (the docs' budgets are for a
user's runs, not for a test suite); everything else, paths, columns and options, is as written."""
from __future__ import annotations

import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/getting-started.md"]
NOT_RUN_BY_PAGE = {"README.md": ["make test"],
                   "docs/getting-started.md": ["make setup", "source .venv/bin/activate"]}
NOT_RUN = {"make setup": "installs", "make test": "this suite", "make docs": "test_docs.py",
           "pip": "installs", "source": "puts .venv/bin on PATH"}


def blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, text) of each fenced code block, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", markdown, flags=re.M | re.S)


def shell_commands(text: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [words for line in joined.splitlines()
            if (words := shlex.split(line, comments=True))]


def make_recipe(target: str) -> list[str]:
    """The one command of a Makefile target whose recipe is ``$(BIN)/automl-guide ...``."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(rf"^{re.escape(target)}:.*\n\t(.+)$", makefile, flags=re.M)
    assert recipe, f"no target {target} in the Makefile"
    words = shlex.split(recipe.group(1).replace("$(BIN)/", ""))
    assert words[0] == "automl-guide", f"make {target} runs {recipe.group(1)}"
    return words


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Session:
    """Runs one page's blocks in order; ``ran`` and ``not_run`` say what each command became."""

    def __init__(self, page: str):
        self.page, self.namespace = page, {"__name__": "__docs__"}
        self.ran: list[str] = []
        self.not_run: list[str] = []
        self.server: subprocess.Popen | None = None
        self.port = 0

    def python(self, text: str, where: str) -> None:
        exec(compile(text, where, "exec"), self.namespace)  # noqa: S102 - the docs' own code
        self.ran.append(where)

    def shell(self, words: list[str]) -> None:
        line = " ".join(words)
        key = next((k for k in NOT_RUN if line == k or words[0] == k), None)
        if key is not None:
            self.not_run.append(line)
            return
        if words[0] == "make":
            words = make_recipe(words[1])
        words = [words[0].removeprefix(".venv/bin/"), *words[1:]]
        {"automl-guide": self._cli, "python": self._script, "curl": self._curl}[words[0]](words)
        self.ran.append(line)

    def _cli(self, words: list[str]) -> None:
        if words[1] == "serve":
            return self._serve(words)
        from automl_guide import cli

        assert cli.main(words[1:]) == 0, f"{self.page}: {' '.join(words)} failed"

    def _script(self, words: list[str]) -> None:
        argv = sys.argv
        sys.argv = words[1:]
        try:
            runpy.run_path(words[1], run_name="__main__")
        finally:
            sys.argv = argv

    def _serve(self, words: list[str]) -> None:
        self.port = _free_port()  # the docs' port may be taken on a test machine
        words = [str(self.port) if w == words[words.index("--port") + 1] else w for w in words]
        binary = str(Path(sys.executable).with_name("automl-guide"))
        self.server = subprocess.Popen([binary, *words[1:]], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
        for _ in range(240):
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health").status_code == 200:
                    return
            except httpx.TransportError:
                assert self.server.poll() is None, self.server.stderr.read().decode()
                time.sleep(0.25)
        raise AssertionError("serve did not answer /health within a minute")

    def _curl(self, words: list[str]) -> None:
        url = urlsplit("//" + next(w for w in words[1:] if w.startswith("localhost:")))
        url = f"http://127.0.0.1:{self.port}{url.path}"  # the port serve was given here
        headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
        body = words[words.index("-d") + 1]
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        self.answer = answer.json()

    def close(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)


@pytest.fixture
def clone_layout(tmp_path, monkeypatch):
    """A fresh directory with the clone's bundled data and examples where the docs say."""
    data = tmp_path / "automl_guide" / "datasets"
    data.mkdir(parents=True)
    shutil.copy(ROOT / "automl_guide" / "datasets" / "clothing_reviews.csv", data)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # the CLI sets it
    from automl_guide import api
    from automl_guide.shop import run

    for module in (api, run):  # every search, from Python, the CLI, the demos and examples
        make_config = module.make_config
        monkeypatch.setattr(module, "make_config", lambda target, _make=make_config, **options:
                            _make(target, **{**options, "max_trials": 1}))
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_command_in_the_page_runs_as_written_on_the_bundled_data(page, clone_layout,
                                                                       ray_session):
    markdown = (ROOT / page).read_text()
    session = Session(page)
    try:
        for number, (language, text) in enumerate(blocks(markdown), 1):
            if language == "python":
                session.python(text, f"{page}, block {number}")
            else:
                assert language in ("sh", ""), f"{page}: a {language} block"
                for words in shell_commands(text):
                    session.shell(words)
    finally:
        session.close()
    assert session.ran, f"{page} has no commands"
    assert session.not_run == NOT_RUN_BY_PAGE[page]  # a new command not run here is named
    if page == "README.md":  # the service answered the curl line's row
        assert len(session.answer["predictions"]) == 1
        assert (clone_layout / "runs" / "shop" / "model.onnx").exists()
    else:  # the seed's ANN example, a table of integers only: one graph, with parity
        _check_digits(session.namespace["result"].card)


def _check_digits(card: dict) -> None:
    """The seed's example of an ANN (a dense network on pixel inputs, ten digit classes) on
    scikit-learn's small version of it: the case whose feature graph skl2onnx writes at an
    older opset than the network's; three blank pixels are left out."""
    assert card["best"]["model"] == "ann" and card["class_labels"] == [str(d) for d in range(10)]
    assert len(card["inputs"]) == 61 and len(card["dropped_columns"]) == 3
    assert card["parity"]["max_abs_diff"] <= 1e-4 and card["parity"]["label_agreement"] >= 0.999
    assert card["parity"]["rows"] == card["rows"]["test"] == 360
    assert card["test_metrics"]["accuracy"] > 0.9  # ten classes: chance is 0.1


def test_the_runner_refuses_what_it_cannot_run():
    """A command the docs might gain that this test does not know is an error, not a pass."""
    session = Session("a page")
    with pytest.raises(KeyError):
        session.shell(["rm", "-rf", "runs"])
    session.shell(["pip", "install", "automl-guide"])
    assert session.not_run == ["pip install automl-guide"] and session.ran == []
    assert shell_commands("automl-guide fit a.csv --target \"Recommended IND\" \\\n"
                          "    --out runs/cli   # a comment\n\n# only a comment\n") == [
        ["automl-guide", "fit", "a.csv", "--target", "Recommended IND", "--out", "runs/cli"]]
    assert make_recipe("demo") == ["automl-guide", "demo"]
