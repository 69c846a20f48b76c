"""Where a trial runs: the device a model plugin should use, and whether CUDA really works.

A trial that Ray scheduled with GPUs runs with :func:`trial_device` set to ``"cuda"`` only when
the CUDA driver answers and sees at least one device; otherwise (logical GPUs on a machine
without one, a driver that fails) it runs on the CPU and says why once. The probe asks the CUDA
driver library directly through ctypes, so it costs microseconds and imports neither torch nor
xgboost.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
from contextvars import ContextVar
from typing import Any, Iterator, Sequence

from .errors import AutoMLGuideError

_DEVICE: ContextVar[str] = ContextVar("automl_guide_device", default="cpu")


def trial_device() -> str:
    """``"cuda"`` inside a trial that holds a usable GPU, else ``"cpu"``. Model plugins call it
    in their ``build`` to place the model (``device="cuda"`` for XGBoost, Keras' device)."""
    return _DEVICE.get()


@contextlib.contextmanager
def _set(variable: ContextVar, value: Any) -> Iterator[None]:
    """``variable`` holds ``value`` inside the block, and what it held before after it."""
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)


def using_device(device: str) -> contextlib.AbstractContextManager:
    """The device :func:`trial_device` returns inside the block."""
    return _set(_DEVICE, device)


@functools.lru_cache(maxsize=None)
def cuda_devices() -> tuple[int, str]:
    """``(number of CUDA devices the driver sees, why none when 0)``; honours
    ``CUDA_VISIBLE_DEVICES`` as Ray sets it for a GPU trial."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0, "no CUDA driver (libcuda) on this machine"
    if lib.cuInit(0) != 0:
        return 0, "the CUDA driver did not initialise"
    count = ctypes.c_int(0)
    if lib.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return 0, "the CUDA driver sees no device"
    return count.value, ""


def choose_device(gpu_ids: list) -> tuple[str, str]:
    """The device for a trial that Ray gave ``gpu_ids``, and a note when a GPU was given but
    cannot be used."""
    if not gpu_ids:
        return "cpu", ""
    count, why = cuda_devices()
    if count:
        return "cuda", ""
    return "cpu", f"GPU trials ran on the CPU: {why} (Ray assigned GPU {gpu_ids})"


_ROWS: ContextVar[Any] = ContextVar("automl_guide_rows", default=None)


def fit_structure() -> Any:
    """The structure (:class:`automl_guide.splits.Structure`: groups, times, gap) of the rows a
    model is being fitted on in a trial or the refit, one entry per row in the order given to
    ``fit``; None when the run splits its rows at random. :func:`automl_guide.holdout_rows`
    reads it."""
    return _ROWS.get()


def fitting_rows(structure: Any) -> contextlib.AbstractContextManager:
    """The structure :func:`fit_structure` returns inside the block."""
    return _set(_ROWS, structure)


# What fitting imports beyond the base install (load, predict, serve): the `train` extra.
TRAINING_MODULES = ("sklearn", "ray", "onnx", "skl2onnx", "onnxmltools", "pyarrow", "jsonschema",
                    "xgboost", "lightgbm", "optuna", "keras", "torch")


def training_error(what: str, missing: Sequence[str]) -> AutoMLGuideError:
    """The error for ``what`` (fitting) in an install without the `train` extra."""
    return AutoMLGuideError(
        f"{what} needs the training libraries, which this install lacks ({', '.join(missing)}): "
        "pip install 'automl-guide[train]'. The base install loads, predicts and serves "
        "exported models.")


def training_missing(exc: ModuleNotFoundError, what: str) -> AutoMLGuideError | None:
    """:func:`training_error` when ``exc`` is a training library's absence, else None."""
    name = (exc.name or "").partition(".")[0]
    return training_error(what, [name]) if name in TRAINING_MODULES else None


def require_training(what: str) -> None:
    """Refuse ``what`` before any work in an install that lacks one of the training libraries
    (one missing only at export would end a run after its search)."""
    import importlib.util

    missing = [name for name in TRAINING_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise training_error(what, missing)
