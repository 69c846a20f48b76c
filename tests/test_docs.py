"""Meta-tests that keep the plugin documentation and tests honest (datasette's habit)."""
from __future__ import annotations

import re
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
