"""Whole-file writes that readers never see half done: the one place files are replaced.

The text goes to a hidden temp file beside the target, is flushed to disk, and is renamed
over the target; a crash leaves the old file (or none) and at most a stray temp file. No
secret goes out with it (`redact`).
"""

from __future__ import annotations

import os
from pathlib import Path

from summarizer.redact import redact


def write_atomic(path: Path, text: str, *, newline: str | None = None) -> None:
    """Replace `path` with `text` (UTF-8) in one rename; `newline` as for `open`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline=newline) as file:
            file.write(redact(text))
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
