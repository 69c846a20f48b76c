"""Meta-tests that keep the plugin documentation and tests honest (datasette's habit)."""
from __future__ import annotations

import ast
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from automl_guide import hookspecs

ROOT = Path(__file__).parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("automl_guide_register_"))


def test_there_are_hooks():
    assert len(HOOKS) >= 3


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert re.search(rf"^## {hook}\(register\)$", guide, re.MULTILINE), hook
    assert getattr(hookspecs, hook).__doc__ and ":param register:" in getattr(hookspecs, hook).__doc__


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = [p for p in (ROOT / "tests").rglob("*.py") if p.name != "test_docs.py"]
    assert any(f"def {hook}(" in p.read_text() for p in tests), f"no test implements {hook}"


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make demo" in head and "make test" in head
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"


def test_every_fit_option_is_in_the_cli_reference():
    from automl_guide.cli import build_parser

    parser = build_parser()
    fit = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "fit")[1]
    reference = (ROOT / "docs" / "cli.md").read_text()
    options = [s for action in fit._actions for s in action.option_strings if s.startswith("--")]
    missing = [o for o in options if o != "--help" and f"`{o}" not in reference]
    assert len(options) > 15 and not missing, missing


def test_the_site_builds_offline_with_every_page(tmp_path):
    import yaml

    site = tmp_path / "site"
    mkdocs = Path(sys.executable).parent / "mkdocs"
    build = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr[-3000:]

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    pages = [page for entry in nav for page in entry.values()]
    assert {"index.md", "api.md", "architecture.md", "plugins.md", "cli.md"} <= set(pages)
    for page in pages:
        built = site / ("index.html" if page == "index.md" else f"{page[:-3]}/index.html")
        assert built.is_file(), page

    api_html = (site / "api" / "index.html").read_text()
    api = html.unescape(re.sub(r"<[^>]+>", "", api_html))
    fit = next(node for node in ast.parse((ROOT / "automl_guide" / "api.py").read_text()).body
               if isinstance(node, ast.FunctionDef) and node.name == "fit_and_export")
    assert ast.get_docstring(fit).splitlines()[0] in api, "fit_and_export's docstring is missing"
    signature = re.search(r"fit_and_export\((.*?)\) -> FitResult", api, re.DOTALL)
    assert signature, "fit_and_export's signature is not on the API page"
    arguments = [a.arg for a in fit.args.args + fit.args.kwonlyargs]
    assert all(f"{name}:" in signature.group(1) for name in arguments), signature.group(1)
    assert ":param" not in api, "a reST docstring was not parsed (docstring_style)"
    assert ":class:" not in api and ":func:" not in api, "Sphinx roles shown raw (mkdocs_hooks)"
    documented = [f"automl_guide.hookspecs.{hook}" for hook in HOOKS] + [
        "automl_guide.predictor.load", "automl_guide.predictor.Predictor",
        "automl_guide.estimators.AutoMLClassifier", "automl_guide.estimators.AutoMLRegressor",
        "automl_guide.shop_run.fit_shop", "automl_guide.shop_run.recommend",
        "automl_guide.specs.ModelSpec", "automl_guide.errors.DataError"]
    assert [name for name in documented if f'id="{name}"' not in api_html] == []
