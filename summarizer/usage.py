"""What the endpoint billed: every HTTP attempt counted, whatever became of its answer.

A run's spend must include the attempts that produced nothing usable (a re-ask, an answer
that failed validation, a 200 that was no completion, a retried error whose body reported
usage), or `--max-cost` could be bypassed by an endpoint that answers garbage. So the
transport (`llm.py`) records each attempt on the meter of the article it belongs to, and
the pipeline reads the meter whether the article succeeds or fails. Meters nest (an article's
meter, and inside it one per question for the cache's record) and live in a context
variable, so concurrent articles on one event loop each have their own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    """Requests sent and tokens billed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.requests += other.requests


_meters: contextvars.ContextVar[tuple[Usage, ...]] = contextvars.ContextVar("meters", default=())


@contextlib.contextmanager
def metered(usage: Usage | None = None) -> Iterator[Usage]:
    """Count every attempt made inside the block (in this context) on `usage` (a fresh one
    by default), as well as on the meters around it."""
    usage = usage if usage is not None else Usage()
    token = _meters.set((*_meters.get(), usage))
    try:
        yield usage
    finally:
        _meters.reset(token)


def record_attempt(body: Any = None) -> None:
    """One HTTP attempt, with the usage its body reported (a completion, or any JSON body
    with a `usage` object), on every meter open in this context."""
    billed = body.get("usage") if isinstance(body, dict) else getattr(body, "usage", None)
    if isinstance(billed, dict):
        prompt, completion = billed.get("prompt_tokens"), billed.get("completion_tokens")
    else:
        prompt = getattr(billed, "prompt_tokens", 0)
        completion = getattr(billed, "completion_tokens", 0)
    attempt = Usage(_count(prompt), _count(completion), 1)
    for usage in _meters.get():
        usage.add(attempt)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0
