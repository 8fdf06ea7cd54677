"""Response cache: nothing is paid for twice.

diskcache (SQLite underneath) is safe for several processes at once. The key hashes
everything that shapes the model's answer (endpoint identity, model, prompt version, the
request itself: messages, schema and generation parameters) and never the API key. The value is
the model's validated raw answer plus its usage, so post-processing fixes apply to cached
answers without paying again. Beside those, the pipeline keeps each article's finished
result under a key that also holds `code_version()`: an unchanged article is answered in
about a millisecond, and once the code changes the per-request answers serve instead.

A cache only saves money, so trouble with it never stops a run; what happened is added to
`warnings` (which every result carries) and the run goes on:
- corrupt (not a database, malformed pages): moved aside to `responses.corrupt-*` and rebuilt
  empty, at open or when first met mid-run; one process rebuilds, others wait for it;
- locked by another process for more than LOCK_WAIT seconds: that read or write is skipped;
  after LOCK_STRIKES locked writes in a row the run stops writing to the cache, after as
  many locked reads it stops using it, so a lock costs seconds, not seconds per article;
- one unreadable entry (a damaged pickle): a miss, and the entry is dropped;
- read-only (a shared or archived cache the user may not write): read through a read-only
  SQLite connection, so every answer it holds is still free; nothing is written.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache

from summarizer.config import CachePolicy
from summarizer.redact import redact_value

log = logging.getLogger(__name__)

LOCK_WAIT = 2.0  # seconds to wait for another process's lock before skipping one access
LOCK_STRIKES = 3  # locked reads (or writes) in a row after which the run stops doing them


@functools.cache
def code_version() -> str:
    """A hash of this package's source and of the libraries that shape a finished result,
    so a whole-article result is reused only by the code that made it."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for library in ("dateparser", "pydantic", "pysbd", "rapidfuzz"):
        h.update(importlib.metadata.version(library).encode())
    return h.hexdigest()[:16]


def cache_key(**parts: Any) -> str:
    """A stable hash of the parts, canonically serialised."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate in an article must not crash hashing (valid text is
    # encoded exactly as before, so existing keys are unchanged).
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def _locked(exc: BaseException) -> bool:
    if isinstance(exc, diskcache.Timeout):  # a write that could not take the lock in time
        return True
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class _Cache(diskcache.Cache):
    """diskcache retries a locked database for 60 s while it opens; wait LOCK_WAIT instead."""

    @property
    def _sql_retry(self) -> Callable[..., Any]:
        sql = self._sql

        def execute(statement: str, *args: Any, **kwargs: Any) -> Any:
            deadline = time.monotonic() + LOCK_WAIT
            while True:
                try:
                    return sql(statement, *args, **kwargs)
                except sqlite3.OperationalError as exc:
                    if not _locked(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(0.01)

        return execute


def _probe(db: Path) -> None:
    """Raise at once (within LOCK_WAIT) if another process holds `db` locked or it is not
    a database: diskcache itself would retry a locked database for a minute while opening."""
    if not db.is_file():
        return
    con = sqlite3.connect(db, timeout=LOCK_WAIT, isolation_level=None)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()  # readable, a database
        con.execute("BEGIN IMMEDIATE")  # writable: nobody holds the write lock
        con.execute("ROLLBACK")
    finally:
        con.close()


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an advisory lock on `lock_file` (POSIX), so only one process rebuilds a cache."""
    try:
        import fcntl
    except ImportError:  # no advisory locks here: rebuild unguarded
        yield
        return
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class ResponseCache:
    """Get and set cached answers; a broken cache degrades to no cache, never to a crash."""

    def __init__(self, directory: Path, policy: CachePolicy = "use") -> None:
        self.directory = directory / "responses"
        self.policy = policy
        self.warnings: list[str] = []
        self._cache: diskcache.Cache | _ReadOnly | None = None
        self._strikes = {"read": 0, "write": 0}  # locked accesses in a row, by kind
        self._writable = True
        self._rebuilt = False
        if policy != "off":
            self._cache = self._open()

    @property
    def active(self) -> bool:
        """Whether answers are still read from and written to disk in this run."""
        return self._cache is not None

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("%s", message)

    def _connect(self) -> diskcache.Cache:
        _probe(self.directory / diskcache.core.DBNAME)
        cache = _Cache.__new__(_Cache)  # built in two steps so a failed open can be closed
        try:
            cache.__init__(str(self.directory), timeout=LOCK_WAIT)  # type: ignore[misc]
            cache.get("__probe__")  # a corrupt database fails here, not mid-batch
        except BaseException:
            _close(cache)
            raise
        return cache

    def _open(self) -> diskcache.Cache | _ReadOnly | None:
        if _read_only(self.directory):
            return self._open_read_only(None)
        try:
            return self._connect()
        except Exception as exc:  # any failure to open means no cache, never a crash
            if _read_only_error(exc):
                return self._open_read_only(exc)
            if _locked(exc):
                self._warn(f"cache {self.directory} is locked ({exc}); running uncached")
                return None
            return self._rebuild(exc)

    def _open_read_only(self, exc: Exception | None) -> _ReadOnly | None:
        """A cache this process may not write is still worth reading."""
        self._writable = False
        try:
            cache = _ReadOnly(self.directory)
        except Exception as again:
            self._warn(
                f"cache {self.directory} is read-only and unreadable ({again}); running uncached"
            )
            return None
        why = f" ({exc})" if exc is not None else ""
        self._warn(f"cache {self.directory} is read-only{why}; reading it without writing")
        return cache

    def _rebuild(self, exc: Exception) -> diskcache.Cache | None:
        """Move a corrupt cache aside and start a fresh one (unless another process just did)."""
        self._rebuilt = True
        db = self.directory / diskcache.core.DBNAME
        damaged = _identity(db)
        with _exclusive(self.directory.with_name(f"{self.directory.name}.lock")):
            if _identity(db) != damaged:  # another process rebuilt it while we waited
                with contextlib.suppress(Exception):
                    return self._connect()
            aside = self.directory.with_name(
                f"{self.directory.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            )
            try:
                if self.directory.exists():
                    shutil.move(str(self.directory), aside)
                cache = self._connect()
            except Exception as again:
                self._warn(f"cache {self.directory} unusable ({again}); running uncached")
                return None
        self._warn(f"cache {self.directory} was corrupt ({exc}); moved to {aside}")
        return cache

    def _trouble(self, action: str, exc: Exception, key: str) -> None:
        """Decide what one failed read or write means for the rest of the run."""
        if _locked(exc):
            exc = exc if str(exc) else sqlite3.OperationalError("database is locked")
            self._strikes[action] += 1
            log.warning("cache %s skipped: %s is locked (%s)", action, self.directory, exc)
            if self._strikes[action] >= LOCK_STRIKES:
                held = f"cache {self.directory} stayed locked by another process ({exc})"
                if action == "write":
                    self._writable = False
                    self._warn(f"{held}; no longer writing to it in this run")
                else:
                    self._warn(f"{held}; running uncached from here")
                    self._drop()
            return
        if isinstance(exc, sqlite3.DatabaseError):  # the database itself is damaged
            self._drop()
            if not self._rebuilt:
                self._cache = self._rebuild(exc)
            else:
                self._warn(f"cache {self.directory} failed again ({exc}); running uncached")
            return
        # One damaged entry (a bad pickle, a missing value file) or a full disk.
        self._warn(f"cache {action} failed ({type(exc).__name__}: {exc}); entry skipped")
        if action == "read" and self._cache is not None:
            with contextlib.suppress(Exception):
                self._cache.delete(key)

    def _drop(self) -> None:
        if self._cache is not None:
            _close(self._cache)
            self._cache = None

    def get(self, key: str) -> dict[str, Any] | None:
        if self._cache is None or self.policy != "use":
            return None
        try:
            value = self._cache.get(key)
        except Exception as exc:  # a cache read can only miss, never crash the run
            self._trouble("read", exc, key)
            return None
        self._strikes["read"] = 0
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        if self._cache is None or not self._writable:
            return
        try:
            self._cache.set(key, redact_value(value))  # no secret reaches the disk
        except Exception as exc:  # a lost cache write costs a re-ask later, never the run
            self._trouble("write", exc, key)
            return
        self._strikes["write"] = 0

    def close(self) -> None:
        self._drop()


class _ReadOnly:
    """The reading half of diskcache.Cache over a database opened read-only (diskcache
    itself writes its settings on open, so it cannot open one)."""

    def __init__(self, directory: Path) -> None:
        db = directory / diskcache.core.DBNAME
        if not db.is_file():
            raise FileNotFoundError(f"no {db.name}")
        self._disk = diskcache.Disk(str(directory))
        self._con = _connect_read_only(db)

    def get(self, key: str) -> Any:
        db_key, raw = self._disk.put(key)
        row = self._con.execute(
            "SELECT expire_time, mode, filename, value FROM Cache WHERE key = ? AND raw = ?",
            (db_key, raw),
        ).fetchone()
        if row is None or (row[0] is not None and row[0] < time.time()):
            return None
        return self._disk.fetch(row[1], row[2], row[3], False)

    def delete(self, key: str) -> None:
        """Nothing is deleted from a read-only cache."""

    def close(self) -> None:
        self._con.close()


def _connect_read_only(db: Path) -> sqlite3.Connection:
    """A read-only connection; a write-ahead-logged database in a folder nobody may write
    opens only as immutable (nobody can change it meanwhile anyway)."""
    try:
        return _checked(f"{db.as_uri()}?mode=ro")
    except sqlite3.Error:
        return _checked(f"{db.as_uri()}?mode=ro&immutable=1")


def _checked(uri: str) -> sqlite3.Connection:
    con = sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT)
    try:
        con.execute("SELECT count(*) FROM Cache").fetchone()
    except sqlite3.Error:
        con.close()
        raise
    return con


def _read_only(directory: Path) -> bool:
    """Whether a cache exists here that this process may read but not write."""
    db = directory / diskcache.core.DBNAME
    return (
        db.is_file()
        and os.access(db, os.R_OK)
        and not (os.access(db, os.W_OK) and os.access(directory, os.W_OK))
    )


def _read_only_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and "readonly" in text


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _close(cache: diskcache.Cache) -> None:
    with contextlib.suppress(Exception):
        cache.close()
