"""Whole-file writes that readers never see half done: the one place files are replaced.

The content goes to a hidden temp file beside the target, is flushed to disk, and is renamed
over the target; a crash leaves the old file (or none) and at most a stray temp file. No
secret goes out in text written here (`redact`); the exports that write through
`atomic_path` redact what they write (`export.export`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from summarizer.redact import redact


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp path beside `path` for a writer that wants a file name (pyarrow, SQLite,
    networkx); renamed over `path` once the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)  # a stray one from a crash; SQLite would open it
    try:
        yield tmp
        with tmp.open("rb+") as file:
            os.fsync(file.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(
    path: Path, text: str, *, newline: str | None = None, encoding: str = "utf-8"
) -> None:
    """Replace `path` with `text` in one rename; `newline` as for `open`."""
    with atomic_path(path) as tmp, tmp.open("w", encoding=encoding, newline=newline) as file:
        file.write(redact(text))
