"""`summarizer export`: a results file as CSV, Parquet, SQLite, a graph or PLOVER records.

Kept apart from cli.py so the export's options live beside the code they drive; cli.py
registers `export_command` as the `export` command. No model is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from summarizer.display import plural
from summarizer.export import ExportFormat, default_target, export
from summarizer.options import ResultsFile
from summarizer.terminal import err, fail, load_or_fail

_EXCEL_FORMATS = ("csv", "csv-parties", "graph")


def export_command(
    results: ResultsFile,
    to: Annotated[
        ExportFormat,
        typer.Option(
            "--to",
            "-t",
            help="csv: a row per item; csv-parties: a row per item and party; parquet; sqlite: "
            "articles, items, parties and evidence tables; graph: the actor network as GEXF, "
            "GraphML and Gephi nodes/edges CSVs; plover: PLOVER event records (JSON lines).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="The file to write (graph: the .gexf; the .graphml, .nodes.csv and .edges.csv "
            "go beside it).",
            show_default="RESULTS with the format's suffix",
        ),
    ] = None,
    excel: Annotated[
        bool,
        typer.Option(
            "--excel",
            help="CSV for spreadsheets: UTF-8 with a byte order mark, so accents survive.",
        ),
    ] = False,
) -> None:
    """Write a results file in a format other tools read; no model is called.

    Party names are the file's canonical ones ("Maduro" and "Nicolás Maduro" are one
    actor); dates come with their precision (day, month or year).
    """
    if excel and to not in _EXCEL_FORMATS:
        fail(f"--excel applies to CSV output ({', '.join(_EXCEL_FORMATS)}), not {to}")
    loaded = load_or_fail(results)
    target = out or default_target(results, to)
    try:
        written = export(loaded, to, target, excel=excel)
    except OSError as exc:
        fail(f"{target}: {exc.strerror or exc}")
    for note in written.notes:
        err.print(Text(f"note: {note}"))
    items = sum(len(r.summary.items()) for r in loaded)
    paths = ", ".join(map(str, written.paths))
    err.print(Text(f"wrote {paths}: {plural(len(loaded), 'article')}, {plural(items, 'item')}"))
