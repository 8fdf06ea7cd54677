"""The one place secrets are kept off disk: every file the tool writes passes through here.

The API key travels only in the request's Authorization header, but it can come back by any
path: an endpoint echoing it in an error, a model repeating it in an answer, an article that
quotes it. So instead of guarding each path, the writers (JSONL lines, the cache, exports)
redact every secret this process has been given, whatever text carries it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import SecretStr

MARK = "[API key]"
_MIN_LENGTH = 8  # shorter "keys" are placeholders (or empty) and would redact ordinary words
_secrets: set[str] = set()
_lock = threading.Lock()


def register(secret: str | SecretStr | None) -> None:
    """Remember a secret for the life of the process, so no later write can carry it."""
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    if secret and len(secret) >= _MIN_LENGTH:
        with _lock:
            _secrets.add(secret)
            # Written inside a JSON string, the key may be escaped ("\/", "\u00e9"...).
            _secrets.add(json.dumps(secret)[1:-1])
            _secrets.add(json.dumps(secret, ensure_ascii=False)[1:-1])


def redact(text: str) -> str:
    """`text` with every registered secret replaced by MARK."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MARK)
    return text


def redact_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value
