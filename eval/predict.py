"""The predictions to score: read from a results JSONL, or made by running the summariser."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress

from summarizer.config import Config
from summarizer.errors import ExtractionError, InputError
from summarizer.schema import ArticleSummary, Result

from . import EvalError, validation_problems


def load_results(path: Path) -> list[Result]:
    """Read a JSONL of `Result`s; raise `EvalError` naming the file and line of a bad record."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"results file {path} is unreadable: {exc}") from None
    results: list[Result] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            results.append(Result.model_validate_json(line))
        except ValidationError as exc:
            raise EvalError(
                f"{path}:{number} is not a Result: {validation_problems(exc)}"
            ) from None
    return results


def summarize_inputs(
    inputs: Path, *, model: str | None, base_url: str | None, console: Console
) -> tuple[list[Result], dict[str, str]]:
    """Summarise `inputs/*.txt` in name order, the file stem as id.

    Returns the results and, by id, why an article could not be summarised: one bad
    article costs its recall, not the whole run. Setup failures (config, model, endpoint)
    still raise, since every later article would fail the same way.
    """
    # Imported here so scoring a results file never loads the pipeline or its backends.
    from summarizer.pipeline import Summarizer

    paths = sorted(inputs.glob("*.txt"))
    if not paths:
        raise EvalError(f"no articles (*.txt) in {inputs}")
    results: list[Result] = []
    failures: dict[str, str] = {}
    with (
        Summarizer(Config.load(model=model, base_url=base_url)) as summarizer,
        Progress(console=console, transient=True) as progress,
    ):
        for path in progress.track(paths, description="summarising"):
            try:
                results.append(summarizer.summarize(path.read_text(encoding="utf-8"), id=path.stem))
            except UnicodeDecodeError as exc:
                failures[path.stem] = f"not UTF-8 text: {exc}"
            except (InputError, ExtractionError) as exc:
                failures[path.stem] = exc.reason
    return results, failures


def by_id(results: list[Result]) -> dict[str, ArticleSummary]:
    """The summaries keyed by article id; two results for one id are an error, not a choice."""
    summaries: dict[str, ArticleSummary] = {}
    for result in results:
        if result.id in summaries:
            raise EvalError(f"two results for article {result.id!r}")
        summaries[result.id] = result.summary
    return summaries
