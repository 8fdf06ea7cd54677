"""Command-line options shared by `run` and the `batch` commands, declared once, with the
checks and closing lines they share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from summarizer import writers
from summarizer.batch import (
    BatchReport,
    describe,
)
from summarizer.config import Config, Mode, default_cache_dir, default_config_file
from summarizer.escape import terminal
from summarizer.terminal import err, fail
from summarizer.writers import ERRORS_SUFFIX, FORMATS, Format


def default_of(field: str) -> str:
    """A setting's built-in default, for --help, read from Config so it never drifts."""
    return str(Config.model_fields[field].default)


# The argument of every command that reads a results file (show, report, export, merge).
ResultsFile = Annotated[
    Path,
    typer.Argument(
        metavar="RESULTS",
        help="A results JSONL written by `summarizer run`.",
        show_default=False,
    ),
]

# Options shared by `run` and `batch`, declared once.
Paths = Annotated[
    list[str],
    typer.Argument(
        metavar="INPUT...",
        help=".txt/.md/.html files, folders (recursive), .jsonl files of "
        "{id, text, title?, published?, url?} records, or - for standard input.",
        show_default=False,
    ),
]
Out = Annotated[
    Path,
    typer.Option(
        "--out", "-o", help="Results JSONL, one line per article; a rerun resumes from it."
    ),
]
Fmt = Annotated[
    Format,
    typer.Option(
        "--format",
        "-f",
        help="Also write OUT with this suffix, rebuilt from the JSONL: json, md (a digest) "
        "or any `summarizer export` format (csv: a row per item, ...), by the same writer.",
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no per-article lines.")
]
Verbose = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="A line for every article: its counts, tokens and warnings, and why it is empty "
        "when its questions failed.",
    ),
]
BaseUrl = Annotated[
    list[str] | None,
    typer.Option(
        metavar="URL",
        help="OpenAI-compatible endpoint; repeat it to spread requests over several (env "
        "SUMMARIZER_BASE_URL, comma-separated).",
        show_default="the embedded model",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model name, or an embedded model name / GGUF path (env SUMMARIZER_MODEL).",
        show_default="qwen2.5-coder-1.5b embedded, gpt-4o-mini remote",
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        help="API key. Insecure: visible in process lists and shell history; prefer the "
        "OPENAI_API_KEY environment variable.",
        show_default="$OPENAI_API_KEY",
    ),
]
ModeOption = Annotated[
    Mode | None,
    typer.Option(help="Instructor mode (env SUMMARIZER_MODE).", show_default=default_of("mode")),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help="Response cache (env SUMMARIZER_CACHE_DIR).", show_default=str(default_cache_dir())
    ),
]
Strict = Annotated[
    bool, typer.Option("--strict", help="Drop items none of whose evidence is in the article.")
]
MaxChars = Annotated[
    int | None,
    typer.Option(
        help="Longest article accepted; longer ones fail with the limit named.",
        show_default=default_of("max_chars"),
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="Settings file, TOML (env SUMMARIZER_CONFIG).",
        show_default=str(default_config_file()),
    ),
]


def check_out(out: Path) -> None:
    if out.suffix.lower() in {f".{f}" for f in FORMATS if f != "jsonl"}:
        fail(
            f"--out is the JSONL file a rerun resumes from; for {out.suffix} output use "
            f"--out {out.with_suffix('.jsonl')} --format {out.suffix[1:].lower()}"
        )
    if out.name.endswith(ERRORS_SUFFIX):
        fail(f"--out cannot end in {ERRORS_SUFFIX}: failures are written to such files")


def finish(report: BatchReport, out: Path, fmt: Format, quiet: bool) -> None:
    """Rebuild the export and print the closing lines."""
    target = writers.export(out, fmt)
    lines = describe(report, out)
    for line in lines if not quiet else lines[1:]:  # --quiet keeps only the stop reason
        err.print(Text(terminal(line)))
    if target is not None and not quiet:
        err.print(Text(terminal(f"wrote {target}")))
