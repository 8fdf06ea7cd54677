"""The eval suite: gold files, scorer, reports and baselines, installed as `summarizer.eval`."""

from __future__ import annotations

from pydantic import ValidationError


class EvalError(ValueError):
    """A gold, results or baseline file is unusable; the message names the file to fix."""


def validation_problems(exc: ValidationError) -> str:
    """One line listing every field pydantic rejected, so the error names what to fix."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
    )
