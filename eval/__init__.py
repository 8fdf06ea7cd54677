"""The eval suite: gold files, scorer, reports and baselines, installed as `summarizer.eval`."""

from __future__ import annotations

from summarizer.errors import validation_problems


class EvalError(ValueError):
    """A gold, results or baseline file is unusable; the message names the file to fix."""


__all__ = ["EvalError", "validation_problems"]
