"""Writing a run's files: whole or not at all."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary name beside ``path``, then rename it into place: a
    half-written file (a full disk, a crash) never replaces a good one, and the temporary file
    is removed when writing fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
