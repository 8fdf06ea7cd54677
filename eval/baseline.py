"""Baselines: the accepted report per model, and the check that a new run has not regressed."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from . import EvalError, validation_problems
from .scorer import Report

BASELINES = Path("eval/baselines")
TOLERANCE = 0.02
# Float sums of the same counts can differ in the last bit; that is no regression.
_EPSILON = 1e-9


class Baseline(BaseModel):
    """A report someone accepted, with the model and prompt version that produced it."""

    model: str
    prompt_version: str
    report: Report


def model_slug(model: str) -> str:
    """A file-name-safe form of a model name ("org/Model 7B" -> "org-model-7b")."""
    return re.sub(r"[^a-z0-9._]+", "-", model.lower()).strip("-.") or "model"


def baseline_path(model: str, directory: Path = BASELINES) -> Path:
    return directory / f"{model_slug(model)}.json"


def load_baseline(path: Path) -> Baseline:
    try:
        return Baseline.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise EvalError(
            f"no baseline at {path}: run the eval with --save-baseline to record one"
        ) from None
    except OSError as exc:
        raise EvalError(f"baseline {path} is unreadable: {exc}") from None
    except ValidationError as exc:
        raise EvalError(f"baseline {path} is invalid: {validation_problems(exc)}") from None


def save_baseline(path: Path, report: Report, *, model: str, prompt_version: str) -> Baseline:
    """Keep the scores, not the misses: those quote the gold's evidence, and a baseline of
    copyrighted articles (the development set) must carry none of their text."""
    scores = report.model_copy(update={"misses": []})
    baseline = Baseline(model=model, prompt_version=prompt_version, report=scores)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return baseline


def check(
    report: Report,
    baseline: Baseline,
    tolerance: float = TOLERANCE,
    current_prompt_version: str | None = None,
) -> list[str]:
    """Why `report` is not acceptable against `baseline`; empty when it is.

    Fails when the headline or any kind's F1 is more than `tolerance` below the baseline,
    or when the prompts changed since the baseline was recorded (its numbers then describe
    other prompts). `current_prompt_version` defaults to the prompt files' version now.
    """
    if current_prompt_version is None:
        # Imported here: only a check needs the prompt files.
        from summarizer.prompts import prompt_version

        current_prompt_version = prompt_version()
    failures: list[str] = []
    if current_prompt_version != baseline.prompt_version:
        failures.append(
            f"prompt files changed since the baseline was recorded (baseline "
            f"{baseline.prompt_version}, now {current_prompt_version}) — run the eval and "
            f"--save-baseline"
        )
    scores = [("headline", report.f1, baseline.report.f1)] + [
        (kind, report.kinds[kind].counts.f1, accepted.counts.f1)
        for kind, accepted in baseline.report.kinds.items()
    ]
    failures.extend(
        f"{what} F1 {now:.3f} is {accepted - now:.3f} below the baseline {accepted:.3f} "
        f"(tolerance {tolerance:.3f})"
        for what, now, accepted in scores
        if accepted - now > tolerance + _EPSILON
    )
    return failures
