"""What the commands show on a terminal: the one usage-error exit, the batch progress view
and the `show` tables. The library reports (events, return values); only this module and
the command modules print, and every id, file name or article string they print goes
through `escape.terminal` first.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import NoReturn

import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from summarizer.batch import BatchReport, Event, Failed, Repaired, Started, Succeeded
from summarizer.display import grounded, plural, what, when, who
from summarizer.escape import terminal
from summarizer.schema import KINDS, Result

EXIT_USAGE = 2
_MAX_LISTED = 10

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """End the command with a one-line message on stderr (exit 2: a usage error)."""
    err.print(Text(terminal(f"error: {message}")))
    raise typer.Exit(code)


def listed(lines: list[str], sep: str = "; ") -> str:
    """The first few of many (line numbers, problems), and how many more there are."""
    shown = sep.join(lines[:_MAX_LISTED])
    more = len(lines) - _MAX_LISTED
    return shown + (f"{sep}and {more} more" if more > 0 else "")


class BatchView:
    """Renders a batch run's events: a progress bar when stderr is a terminal and not
    `quiet`, a line per failure (unless `quiet`) and per success (`verbose`)."""

    def __init__(self, console: Console = err, *, quiet: bool = False, verbose: bool = False):
        self.console = console
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.bar = Progress(
            TextColumn("summarising"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console,
            disable=quiet or not console.is_terminal,
        )
        self.task = self.bar.add_task("", total=None, stats="")

    def __enter__(self) -> BatchView:
        self.bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.bar.stop()

    def __call__(self, event: Event) -> None:
        match event:
            case Repaired(path, removed):
                self.console.print(
                    Text(
                        terminal(
                            f"warning: {path} ended in a partial line ({removed} bytes) from "
                            "an interrupted run; removed it"
                        ),
                        "yellow",
                    )
                )
            case Started(total):
                self.bar.update(self.task, total=total)
            case Succeeded(id, result, report):
                if self.verbose:
                    info = result.run
                    counts = ", ".join(
                        plural(len(items), kind) for kind, items in result.summary.by_kind()
                    )
                    how = (
                        "cached"
                        if info.cache_hit
                        else f"{info.prompt_tokens + info.completion_tokens:,} tokens"
                    )
                    self.console.print(Text(terminal(f"ok {id}: {counts} ({how})")))
                self._advance(report)
            case Failed(id, source, kind, reason, report):
                if not self.quiet:
                    line = f"failed {id} ({source}): {kind}: {reason}"
                    self.console.print(Text(terminal(line), "red"))
                self._advance(report)

    def _advance(self, report: BatchReport) -> None:
        tokens = report.prompt_tokens + report.completion_tokens
        stats = f"{tokens:,} tokens · {report.cache_hits:,} cached · {report.failed:,} failed"
        self.bar.update(self.task, advance=1, stats=stats)


def tables(results: list[Result]) -> Iterator[RenderableType]:
    """A table per article of what was found, then a line of totals."""
    totals = dict.fromkeys(KINDS, 0)
    for result in results:
        summary = result.summary
        heading = Text(terminal(summary.title or summary.id), style="bold")
        if summary.title:
            heading.append(f"  [{terminal(summary.id)}]", style="dim")
        items = summary.items()
        if not items:
            yield Text.assemble(heading, " ", Text("nothing found", style="dim"))
            continue
        table = Table(
            title=heading,
            caption=Text(terminal(summary.summary)),
            title_justify="left",
            caption_justify="left",
            expand=True,
        )
        for column in ("kind", "who", "when", "where", "status", "what"):
            table.add_column(column, overflow="fold")
        for kind, item in items:
            totals[kind] += 1
            style = None if grounded(item) else "yellow"
            table.add_row(
                kind,
                Text(terminal(who(item))),
                Text(terminal(when(item) or "")),
                Text(terminal(getattr(item, "location", None) or "")),
                item.status,
                Text(terminal(what(item)) + ("" if grounded(item) else "  (not grounded)")),
                style=style,
            )
        yield table
        yield ""
    counts = ", ".join(plural(n, kind) for kind, n in totals.items())
    yield f"{plural(len(results), 'article')}: {counts}"
