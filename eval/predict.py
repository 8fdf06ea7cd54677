"""The predictions to score: read from a results JSONL, or made by running the summariser on
articles read exactly as `summarizer run` reads them (.txt, .md, .html, folders, JSONL)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from summarizer.config import Config
from summarizer.errors import ExtractionError, InputError
from summarizer.inputs import Article, read_inputs, scan_inputs
from summarizer.schema import ArticleSummary, Result
from summarizer.writers import load_results

from . import EvalError
from .joined import JOINED_ID, join_order, join_texts


def load_predictions(path: Path) -> list[Result]:
    """Every result of a JSONL file, strictly: a bad line or a doubled id is an error."""
    results, _ = load_results(path, strict=True)
    return results


def input_ids(inputs: Path) -> list[str]:
    """The ids of the articles under `inputs`, in the order they are joined (without
    reading them)."""
    return join_order(s.id for s in scan_inputs([str(inputs)]).sources)


def read_articles(inputs: Path) -> tuple[list[Article], dict[str, str]]:
    """The usable articles under `inputs` in join order, and by id why the others are not."""
    found, unusable = read_inputs([str(inputs)])
    failures = {p.id: p.reason for p in unusable}
    articles = {a.id: a for a in found}
    if not articles and not failures:
        raise EvalError(f"no articles (.txt, .md, .html, .htm or .jsonl) in {inputs}")
    return [articles[i] for i in join_order(articles)], failures


def summarize_inputs(
    inputs: Path,
    *,
    model: str | None,
    base_url: str | None,
    join: bool = False,
    track: Callable[[list[Article]], Iterable[Article]] = iter,
) -> tuple[list[Result], dict[str, str]]:
    """Summarise the articles under `inputs` in join order (with `join`, all of them as one
    article, id `joined`).

    `track` wraps the articles as they are summarised (the command shows a progress bar).
    Returns the results and, by id, why an article could not be summarised: one bad
    article costs its recall, not the whole run. Setup failures (config, model, endpoint)
    still raise, since every later article would fail the same way.
    """
    # Imported here so scoring a results file never loads the pipeline or its backends.
    from summarizer.pipeline import Summarizer

    articles, failures = read_articles(inputs)
    if join:
        if failures:
            raise EvalError(f"cannot join the articles: {'; '.join(failures.values())}")
        articles = [Article(JOINED_ID, join_texts([a.text for a in articles]), str(inputs))]
    results: list[Result] = []
    with Summarizer(Config.load(model=model, base_url=base_url)) as summarizer:
        for article in track(articles):
            try:
                results.append(
                    summarizer.summarize(
                        article.text,
                        id=article.id,
                        title=article.title,
                        published=article.published,
                    )
                )
            except (InputError, ExtractionError) as exc:
                failures[article.id] = exc.reason
    return results, failures


def by_id(results: list[Result]) -> dict[str, ArticleSummary]:
    """The summaries keyed by article id; two results for one id are an error, not a choice."""
    summaries: dict[str, ArticleSummary] = {}
    for result in results:
        if result.id in summaries:
            raise EvalError(f"two results for article {result.id!r}")
        summaries[result.id] = result.summary
    return summaries
