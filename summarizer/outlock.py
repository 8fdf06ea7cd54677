"""One writer per output: `--out` is checked and locked before any request is sent.

Two runs appending to the same results file would each summarise (and pay for) every article
and write it twice, so a run holds an exclusive advisory lock (`fcntl.flock`) on a file
beside the output, `.NAME.lock`, for as long as it writes. The lock file holds the PID of
its holder, so the second run can say who has it; the kernel releases the lock when the
holder exits, however it exits (even SIGKILL), so a stale lock file never blocks anyone.
The file itself is left in place: deleting a lock file others may have open would let two
runs lock two different files.

Before that, the output path is checked the way the run will use it (a file that can be
appended to, in a folder that exists or can be made), so a bad `--out` is one line, exit 2,
before anything is paid for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from summarizer.errors import SummarizerError
from summarizer.writers import errors_path


class OutputError(SummarizerError):
    """The output cannot be written, or another run is writing it."""

    kind = "output"


def lock_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


def check_output(out: Path) -> None:
    """Raise OutputError unless `out` (and errors.jsonl beside it) can be written: not a
    folder, not under a file, in a folder that exists or can be created."""
    try:
        _check(out)
    except OSError as exc:  # a name too long, a loop of links...: the system's reason
        raise OutputError(f"--out {out}: cannot create {out.parent} ({exc.strerror})") from None


def _check(out: Path) -> None:
    if out.is_dir():
        raise OutputError(
            f"--out {out} is a folder; give a file name such as {out / 'results.jsonl'}"
        )
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"--out {out}: {parent} is a file, not a folder")
        if parent.exists():
            break
    out.parent.mkdir(parents=True, exist_ok=True)
    for path in (out, errors_path(out)):
        if path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
            raise OutputError(f"--out {out}: {path} is not a writable file")
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: the folder {out.parent} is not writable")


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Check `out` and hold its lock for the block; OutputError if another process has it."""
    check_output(out)
    try:
        import fcntl
    except ImportError:  # no advisory locks on this system: run unguarded, as documented
        yield
        return
    path = lock_path(out)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create {path} ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise OutputError(
                f"{out} is being written by another summarizer run (PID {holder}, lock "
                f"{path}); wait for it to finish or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
