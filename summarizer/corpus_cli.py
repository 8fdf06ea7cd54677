"""`summarizer merge` and `summarizer timeline`: the corpus view over many articles' results.

The main CLI registers them with `app.command("merge")(merge_command)` and
`app.command("timeline")(timeline_command)`. Unusable input ends with a one-line message
on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from summarizer.atomic import write_atomic
from summarizer.corpus import link, load_corpus
from summarizer.display import plural
from summarizer.options import ResultsFile
from summarizer.terminal import fail, load_or_fail


def merge_command(
    results: ResultsFile,
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="FILE", help="Where to write the corpus JSON.")
    ] = Path("corpus.json"),
) -> None:
    """Link the items of many articles into one record per real-world event.

    Reports of the same meeting, agreement or dispute become one event with every source
    and quote; details the sources disagree on are kept side by side as conflicts.
    """
    corpus = link(load_or_fail(results, whole=True))
    try:
        write_atomic(out, corpus.model_dump_json(indent=2))
    except OSError as exc:
        fail(f"{out}: {exc.strerror or exc}")
    items = sum(len(e.sources) for e in corpus.events)
    shared = sum(len(e.sources) > 1 for e in corpus.events)
    conflicted = sum(bool(e.conflicts) for e in corpus.events)
    typer.echo(
        f"{plural(items, 'item')} from {plural(len(corpus.articles), 'article')} -> "
        f"{plural(len(corpus.events), 'event')} ({shared} with several sources, "
        f"{conflicted} with conflicts) in {out}"
    )


def timeline_command(
    corpus: Annotated[Path, typer.Argument(help="A corpus JSON written by `summarizer merge`.")],
) -> None:
    """Print the events in date order, undated ones last."""
    if not corpus.is_file():
        fail(f"{corpus}: no such file")
    try:
        loaded = load_corpus(corpus)
    except ValueError as exc:
        fail(str(exc))
    table = Table("date", "kind", "actors", "event", "sources", "conflicts", title="Timeline")
    for event in loaded.events:
        table.add_row(  # Text, not str: names and quotes may hold [brackets] rich reads as markup
            Text(event.date or "undated"),
            Text(event.kind),
            Text("; ".join(event.actors)),
            Text(event.label),
            Text(str(len(event.sources))),
            Text(", ".join(c.field for c in event.conflicts)),
        )
    Console(highlight=False).print(table)
