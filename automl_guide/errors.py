"""The errors automl-guide raises on purpose.

Every error a user can cause derives from :class:`AutoMLGuideError`; the CLI prints its message
(one paragraph, naming the column, row, plugin or file at fault) and exits non-zero without a
traceback. Anything else escaping the library is a bug.
"""
from __future__ import annotations

from typing import Any, Sequence


class AutoMLGuideError(Exception):
    """Base class of the errors a user can cause and fix."""

    exit_code = 2


class DataError(AutoMLGuideError, ValueError):
    """The input table cannot be used as given (missing column, wrong dtype, empty file...)."""


class PluginError(AutoMLGuideError):
    """A plugin registered something invalid; the message names the plugin and its distribution."""


class SearchError(AutoMLGuideError):
    """The search produced no usable trial (every trial failed, or the budget allowed none)."""


class ExportError(AutoMLGuideError):
    """The model could not be written as ONNX, or its output would overwrite a user's files."""


class ParityError(ExportError):
    """The ONNX graph disagrees with the native model beyond tolerance; nothing was shipped."""


class DriftWarning(UserWarning):
    """Rows to score differ from the training data in ways the model can take (a category never
    seen in training, a number outside the training range); ``strict`` makes them errors."""


def did_you_mean(name: str, known: Sequence[Any]) -> str:
    """`` (did you mean 'Age'?)`` for a name that differs from a known one in case, spacing or
    a few letters; empty when none is close."""
    import difflib

    known = [str(k) for k in known]
    folded = {" ".join(k.lower().split()): k for k in known}
    match = folded.get(" ".join(str(name).lower().split()))
    if match is None:
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.8)
        match = close[0] if close else None
    return f" (did you mean {match!r}?)" if match is not None else ""
