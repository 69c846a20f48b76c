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


def test_the_hooks_are_the_four_kinds_of_plugin():
    assert HOOKS == ["automl_guide_register_features", "automl_guide_register_models",
                     "automl_guide_register_searchers", "automl_guide_register_shop_features"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented(hook):
    guide = (ROOT / "docs" / "plugins.md").read_text()
    assert re.search(rf"^## {hook}\(register\)$", guide, re.MULTILINE), hook
    assert getattr(hookspecs, hook).__doc__ and ":param register:" in getattr(hookspecs, hook).__doc__


def _hook_implementations(tree: ast.AST, hook: str, in_test: bool = False) -> int:
    """Implementations of ``hook`` in a test module: functions of that name marked
    ``@hookimpl``, or defined inside a test function (which registers them itself)."""
    found = 0
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef) and node.name == hook:
            marked = any(getattr(d.func if isinstance(d, ast.Call) else d, "id", None)
                         == "hookimpl" for d in node.decorator_list)
            found += marked or in_test
        inside = in_test or (isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
        found += _hook_implementations(node, hook, inside)
    return found


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = (ROOT / "tests").glob("test_*.py")
    assert sum(_hook_implementations(ast.parse(p.read_text()), hook) for p in tests) > 0, \
        f"no test implements {hook}"


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
        "automl_guide.shop.run.fit_shop", "automl_guide.shop.snapshot.recommend",
        "automl_guide.specs.ModelSpec", "automl_guide.errors.DataError"]
    assert [name for name in documented if f'id="{name}"' not in api_html] == []


# -- every test the docs name exists ----------------------------------------------------------
TEST_REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?(\[[^\]`]+\])?`")


def _test_tables(markdown: str) -> list[tuple[str, str]]:
    """(first cell, last cell) of each row of every table whose last column is headed `test`."""
    rows, in_table = [], False
    for line in markdown.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not in_table:
            in_table = cells[-1] == "test"
        elif not set(line) <= set("|- :"):
            rows.append((cells[0], cells[-1]))
    return rows


def _test_ids(files: set[str]) -> set[str]:
    """The node ids pytest collects from ``files`` (parametrized ids included)."""
    if not files:
        return set()
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *sorted(files)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return {line.strip() for line in collected.stdout.splitlines() if "::" in line}


def _defined_tests(path: Path) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def missing_tests(references: list[tuple[str, str, str]], root: Path = ROOT) -> list[str]:
    """The references (file, test function, ``[id]`` or "") that name no existing test."""
    missing = []
    for path, name, param in references:
        file = root / path
        if not file.is_file() or (name and name not in _defined_tests(file)):
            missing.append(f"{path}::{name}{param}" if name else path)
    with_ids = {(path, name, param) for path, name, param in references if param}
    ids = _test_ids({path for path, _, _ in with_ids if (root / path).is_file()})
    missing += [f"{p}::{n}{i}" for p, n, i in sorted(with_ids)
                if f"{p}::{n}{i}" not in ids and f"{p}::{n}" not in " ".join(missing)]
    return missing


def table_problems(markdown: str, root: Path = ROOT) -> list[str]:
    """Rows of the test tables that name no test, or something else than tests, and the tests
    they name that do not exist."""
    problems, references = [], []
    for first, cell in _test_tables(markdown):
        found = TEST_REFERENCE.findall(cell)
        rest = TEST_REFERENCE.sub("", cell).replace(",", "").strip()
        if not found or rest:
            problems.append(f"the row {first[:50]!r} names {cell!r}, not only tests")
        references += found
    return problems + [f"no such test: {ref}" for ref in missing_tests(references, root)]


def test_every_row_of_the_reliability_tables_names_tests_that_exist():
    reliability = (ROOT / "docs" / "reliability.md").read_text()
    assert len(_test_tables(reliability)) > 80  # the bad input, faults and export tables
    assert table_problems(reliability) == []


def test_every_test_the_docs_name_exists():
    pages = [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
    references = [ref for page in pages for ref in TEST_REFERENCE.findall(page.read_text())]
    assert len(references) > 100 and missing_tests(references) == []


def test_the_reliability_check_catches_a_row_naming_a_missing_test():
    table = """| case | what the user sees | test |
|---|---|---|
| empty file | error | `tests/test_bad_input.py::test_bad_input_is_one_clear_error_without_traceback[empty_file]` |
| a renamed test | error | `tests/test_api.py::test_that_was_renamed` |
| a case not tested | error | `tests/test_api.py::test_existing_run_is_not_overwritten_silently[nope]` |
| a function, not a test | error | `automl_guide/api.py::write_atomic` |
| no test at all | error | same test |
"""
    assert table_problems(table) == [
        "the row 'a function, not a test' names '`automl_guide/api.py::write_atomic`', "
        "not only tests",
        "the row 'no test at all' names 'same test', not only tests",
        "no such test: tests/test_api.py::test_that_was_renamed",
        "no such test: tests/test_api.py::test_existing_run_is_not_overwritten_silently[nope]"]
