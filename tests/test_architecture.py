"""The architecture, checked rather than described: import-linter's contracts (pyproject.toml),
the size of the core's modules and functions, and no private name used across modules."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("automl_guide", "automl_guide_plugins", "automl_guide_schemas")  # installed names
CHECKED = ("automl_guide", "plugins", "schemas", "tests", "benchmarks", "examples")
INSTALLED = {"plugins": "automl_guide_plugins", "schemas": "automl_guide_schemas"}  # folder: name


def _lint_imports(root: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=300, env=env)


def test_the_import_contracts_hold():
    done = _lint_imports()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    contracts = (ROOT / "pyproject.toml").read_text().count("[[tool.importlinter.contracts]]")
    assert f"Contracts: {contracts} kept, 0 broken." in done.stdout, done.stdout[-2000:]


def test_a_stage_importing_a_later_stage_breaks_the_contracts(tmp_path):
    """The contracts are not vacuous: a copy of the package whose select stage imports the
    export stage (a later one) fails them."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "automl_guide", copy / "automl_guide",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    select = copy / "automl_guide" / "select.py"
    select.write_text(select.read_text().replace(
        "from .errors import SearchError", "from .delivery import Exported  # noqa\n"
        "from .errors import SearchError"))
    done = _lint_imports(copy, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "automl_guide.select -> automl_guide.delivery" in done.stdout, done.stdout[-3000:]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = INSTALLED.get(parts[0], parts[0])
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def private_uses(path: Path) -> list[str]:
    """Where ``path`` uses a private name (``_x``) of another of the repository's modules:
    imported by name, read as an attribute of an imported module, or set on one by name
    (``monkeypatch.setattr(module, "_x", ...)``). A private module (``_svg``) is its own
    package's business: only code outside that package may not import it."""
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}  # local name -> one of our modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(alias.name):
                    aliases[(alias.asname or alias.name).split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0])
                    if any(_private(p) for p in alias.name.split(".")) and (
                            alias.name.split(".")[0] != module.split(".")[0]):
                        found.append(f"{path.name}:{node.lineno} import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            if not _ours(source):
                continue
            for alias in node.names:
                target = f"{source}.{alias.name}"
                same_package = source.split(".")[0] == module.split(".")[0]
                if _private(alias.name) and not (same_package and _is_module(target)):
                    if source != module:
                        found.append(f"{path.name}:{node.lineno} from {source} import "
                                     f"{alias.name}")
                if _is_module(target):
                    aliases[alias.asname or alias.name] = target
                if any(_private(p) for p in source.split(".")) and not same_package:
                    found.append(f"{path.name}:{node.lineno} from {source} import ...")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and _private(node.attr)):
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
        if (isinstance(node, ast.Call) and len(node.args) >= 2
                and isinstance(node.args[0], ast.Name) and node.args[0].id in aliases
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str) and _private(node.args[1].value)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "setattr"):
            found.append(f"{path.name}:{node.lineno} setattr({node.args[0].id}, "
                         f"{node.args[1].value!r})")
    return found


def _is_module(dotted: str) -> bool:
    parts = dotted.split(".")
    parts[0] = {name: folder for folder, name in INSTALLED.items()}.get(parts[0], parts[0])
    base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _python_files() -> list[Path]:
    return sorted(p for top in CHECKED for p in (ROOT / top).rglob("*.py")
                  if "__pycache__" not in p.parts and ".venvs" not in p.parts)


def test_no_module_uses_a_private_name_of_another():
    found = [use for path in _python_files() for use in private_uses(path)]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("code", [
    "from automl_guide.api import _refit\n",
    "from automl_guide import search\nsearch._Collector()\n",
    "import automl_guide.search as s\ns._schedulable(1)\n",
    "from automl_guide import api\n\ndef test(monkeypatch):\n"
    "    monkeypatch.setattr(api, '_trial_data', None)\n",
    "from automl_guide import _svg\n"])
def test_the_private_name_check_catches_each_kind_of_use(code, tmp_path, monkeypatch):
    probe = ROOT / "tests" / "_probe_private_use.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: code)
    assert private_uses(probe) != []


def test_engine_fit_reads_in_one_screen():
    from automl_guide import engine

    tree = ast.parse(Path(engine.__file__).read_text())
    [fit] = [f for f in _functions(tree) if f.name == "fit"]
    assert _code_lines(fit) < 80


def test_no_module_of_the_core_over_450_lines_nor_function_over_60():
    """Docstrings not counted: what a reader must follow."""
    modules = sorted((ROOT / "automl_guide").rglob("*.py"))
    long_modules = {p.name: n for p in modules if (n := len(p.read_text().splitlines())) > 450}
    long_functions = {f"{p.name}:{f.name}": _code_lines(f) for p in modules
                      for f in _functions(ast.parse(p.read_text())) if _code_lines(f) > 60}
    assert long_modules == {} and long_functions == {}


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _code_lines(node: ast.AST) -> int:
    """A function's lines less its docstring's: what a reader must follow."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        lines -= first.end_lineno - first.lineno + 1
    return lines
