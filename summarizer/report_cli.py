"""`summarizer report`: the command-line face of `summarizer.report`.

Kept apart from cli.py so the report's options live beside the code they drive; cli.py
registers `report_command` as the `report` command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from summarizer.corpus import load_corpus
from summarizer.display import plural
from summarizer.errors import InputError
from summarizer.escape import terminal
from summarizer.inputs import read_texts
from summarizer.options import ResultsFile
from summarizer.report import write_report
from summarizer.terminal import err, fail, listed, load_or_fail


def report_command(
    results: ResultsFile,
    corpus: Annotated[
        Path | None,
        typer.Argument(
            help="A corpus.json from `summarizer merge`: its linked events feed the timeline "
            "and the network instead of one event per item.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The HTML file to write; it opens offline.")
    ] = Path("report.html"),
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--inputs",
            "-i",
            metavar="PATH",
            help="The articles the results came from (files, folders, .jsonl), matched by id, "
            "so quotes are highlighted in place. Repeat for several paths.",
            show_default="none: items and quotes are listed without the text",
        ),
    ] = None,
) -> None:
    """Write one self-contained HTML report: highlighted texts, a timeline and an actor network."""
    if corpus is not None and not corpus.is_file():
        fail(f"{corpus}: no such file")
    loaded = load_or_fail(results)
    if not loaded:
        fail(f"{results}: no results to report")
    try:
        linked = load_corpus(corpus) if corpus is not None else None
        texts, problems = read_texts(inputs or [], (r.id for r in loaded))
    except ValueError as exc:
        fail(str(exc))
    except InputError as exc:
        fail(exc.reason)
    if problems:
        err.print(Text(terminal(f"warning: unreadable articles: {listed(problems)}")))
    missing = sum(r.id not in texts for r in loaded)
    write_report(out, loaded, texts, linked)
    note = f", {plural(missing, 'article')} without text" if missing else ""
    err.print(Text(f"wrote {out}: {plural(len(loaded), 'article')}{note}"))
