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
from .joined import JOINED_ID, join_texts


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
    inputs: Path,
    *,
    model: str | None,
    base_url: str | None,
    console: Console,
    join: bool = False,
) -> tuple[list[Result], dict[str, str]]:
    """Summarise `inputs/*.txt` in name order, the file stem as id (with `join`, all of
    them as one article, id `joined`).

    Returns the results and, by id, why an article could not be summarised: one bad
    article costs its recall, not the whole run. Setup failures (config, model, endpoint)
    still raise, since every later article would fail the same way.
    """
    # Imported here so scoring a results file never loads the pipeline or its backends.
    from summarizer.pipeline import Summarizer

    paths = sorted(inputs.glob("*.txt"))
    if not paths:
        raise EvalError(f"no articles (*.txt) in {inputs}")
    articles, failures = _read(paths)
    if join:
        if failures:
            raise EvalError(f"cannot join the articles: {'; '.join(failures.values())}")
        articles = {JOINED_ID: join_texts(list(articles.values()))}
    results: list[Result] = []
    with (
        Summarizer(Config.load(model=model, base_url=base_url)) as summarizer,
        Progress(console=console, transient=True) as progress,
    ):
        for article_id in progress.track(articles, description="summarising"):
            try:
                results.append(summarizer.summarize(articles[article_id], id=article_id))
            except (InputError, ExtractionError) as exc:
                failures[article_id] = exc.reason
    return results, failures


def _read(paths: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """The articles' texts by id, and why the unreadable ones could not be read."""
    texts: dict[str, str] = {}
    failures: dict[str, str] = {}
    for path in paths:
        try:
            texts[path.stem] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            failures[path.stem] = f"not UTF-8 text: {exc}"
    return texts, failures


def by_id(results: list[Result]) -> dict[str, ArticleSummary]:
    """The summaries keyed by article id; two results for one id are an error, not a choice."""
    summaries: dict[str, ArticleSummary] = {}
    for result in results:
        if result.id in summaries:
            raise EvalError(f"two results for article {result.id!r}")
        summaries[result.id] = result.summary
    return summaries
