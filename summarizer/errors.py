"""Typed errors: every failure a caller can act on has its own class and a one-line reason."""

from __future__ import annotations

from pydantic import ValidationError

from summarizer.usage import Usage


class SummarizerError(Exception):
    """Base class; `reason` is the one-line message shown in the errors file and the CLI."""

    kind = "error"

    def __init__(self, reason: str, *, raw: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw  # the last raw model response, when one was paid for
        self.usage: Usage | None = None  # what the failed article's attempts were billed


class InputError(SummarizerError):
    """The article itself is unusable: empty, binary, too long, not an article."""

    kind = "input"


class ConfigError(SummarizerError):
    """Settings are missing or contradictory."""

    kind = "config"


class ModelError(SummarizerError):
    """The embedded model is missing, corrupt or failed to start."""

    kind = "model"


class EndpointError(SummarizerError):
    """The endpoint kept failing after every transport retry."""

    kind = "endpoint"


class ExtractionError(SummarizerError):
    """The model's output stayed invalid after every re-ask."""

    kind = "extraction"


class CacheError(SummarizerError):
    """The cache directory is unusable (corrupt, locked, not writable)."""

    kind = "cache"


def validation_problems(exc: ValidationError) -> str:
    """One line listing every field pydantic rejected, so the message names what to fix."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )
