"""The errors automl-guide raises on purpose.

Every error a user can cause derives from :class:`AutoMLGuideError`; the CLI prints its message
(one paragraph, naming the column, row, plugin or file at fault) and exits non-zero without a
traceback. Anything else escaping the library is a bug.
"""
from __future__ import annotations


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
