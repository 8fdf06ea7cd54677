"""Response cache: nothing is paid for twice.

diskcache (SQLite underneath) is safe for several processes at once. The key hashes
everything that shapes the model's answer (endpoint identity, model, prompt version, the
request itself: messages, schema and generation parameters) and never the API key. The value is
the model's validated raw answer plus its usage, so post-processing fixes apply to cached
answers without paying again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import diskcache

from summarizer.config import CachePolicy

log = logging.getLogger(__name__)


def cache_key(**parts: Any) -> str:
    """A stable hash of the parts, canonically serialised."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Get and set cached answers; a broken cache degrades to no cache, never to a crash."""

    def __init__(self, directory: Path, policy: CachePolicy = "use") -> None:
        self.directory = directory / "responses"
        self.policy = policy
        self.warnings: list[str] = []
        self._cache: diskcache.Cache | None = None
        if policy != "off":
            self._cache = self._open()

    def _open(self) -> diskcache.Cache | None:
        try:
            cache = diskcache.Cache(str(self.directory), timeout=30)
            cache.get("__probe__")  # a corrupt database fails here, not mid-batch
            return cache
        except (sqlite3.DatabaseError, OSError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                self.warnings.append(f"cache {self.directory} is locked ({exc}); running uncached")
                return None
            return self._rebuild(exc)

    def _rebuild(self, exc: Exception) -> diskcache.Cache | None:
        """Move a corrupt cache aside and start a fresh one."""
        aside = self.directory.with_name(f"{self.directory.name}.corrupt-{int(time.time())}")
        try:
            shutil.move(str(self.directory), aside)
            cache = diskcache.Cache(str(self.directory), timeout=30)
        except (sqlite3.DatabaseError, OSError) as again:
            self.warnings.append(f"cache {self.directory} unusable ({again}); running uncached")
            return None
        self.warnings.append(f"cache {self.directory} was corrupt ({exc}); moved to {aside}")
        return cache

    def get(self, key: str) -> dict[str, Any] | None:
        if self._cache is None or self.policy != "use":
            return None
        try:
            value = self._cache.get(key)
        except (sqlite3.DatabaseError, OSError) as exc:
            log.warning("cache read failed: %s", exc)
            return None
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        if self._cache is None:
            return
        try:
            self._cache.set(key, value)
        except (sqlite3.DatabaseError, OSError) as exc:
            log.warning("cache write failed: %s", exc)

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
