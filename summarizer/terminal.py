"""What the commands show on a terminal: the one usage-error exit, the batch progress view
and the `show` tables. The library reports (events, return values); only this module and
the command modules print, and every id, file name or article string they print goes
through `escape.terminal` first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import typer
from rich import box
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from summarizer.actors import names_in
from summarizer.batch import Asking, BatchReport, Event, Failed, Repaired, Started, Succeeded
from summarizer.display import grounded, plural, what, when, who
from summarizer.escape import terminal
from summarizer.schema import KINDS, Result
from summarizer.tally import FAILED_QUESTION, Asked
from summarizer.writers import load_results

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


def load_or_fail(path: Path, *, whole: bool = False) -> list[Result]:
    """A results file's results, or a one-line usage error when it is missing, unreadable or
    not a results file at all (an article given by mistake). Lines that are not results are
    skipped with a warning, or with `whole` are an error (a corpus missing an article would
    misreport who said what)."""
    if not path.is_file():
        fail(f"{path}: no such file")
    try:
        loaded, bad = load_results(path)
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    if bad and not loaded:
        fail(
            f"{path} is not a results file: this command reads the JSONL that `summarizer "
            f"run` writes (summarise it first: summarizer run {path})"
        )
    if bad and whole:
        fail(f"{path}: not a summarizer result on line(s) {listed(list(map(str, bad)), ', ')}")
    if bad:
        err.print(
            f"warning: skipped lines that are not results: {listed(list(map(str, bad)), ', ')}"
        )
    return loaded


class BatchView:
    """Renders a batch run's events: a progress bar when stderr is a terminal and not
    `quiet`, a line per failure (unless `quiet`) and per success (`verbose`).

    The bar shows signs of life inside an article too: the questions asked of how many the
    strategy expects so far, and the tokens spent, finished articles' and in-flight ones'.
    """

    def __init__(self, console: Console = err, *, quiet: bool = False, verbose: bool = False):
        self.console = console
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.bar = Progress(
            TextColumn("summarising"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),  # from the measured speed of the articles finished
            TextColumn("{task.fields[stats]}"),
            console=console,
            disable=quiet or not console.is_terminal,
        )
        self.task = self.bar.add_task("", total=None, stats="")
        self.report = BatchReport()
        self.flight: dict[str, Asked] = {}  # articles in flight: how far each has got
        self.latest: str | None = None

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
            case Asking(id, asked):
                self.flight[id], self.latest = asked, id
                self.bar.update(self.task, stats=self.stats())
            case Succeeded(id, result, report):
                self.flight.pop(id, None)
                if self.verbose:
                    for line in done_lines(id, result):
                        self.console.print(Text(terminal(line)))
                self._advance(report)
            case Failed(id, source, kind, reason, report):
                self.flight.pop(id, None)
                if not self.quiet:
                    line = f"failed {id} ({source}): {kind}: {reason}"
                    self.console.print(Text(terminal(line), "red"))
                self._advance(report)

    def stats(self) -> str:
        """Tokens so far (in-flight questions included), cache hits, failures, and how far
        the article that spoke last has got."""
        report = self.report
        tokens = report.prompt_tokens + report.completion_tokens
        tokens += sum(a.tokens for a in self.flight.values())
        line = f"{tokens:,} tokens · {report.cache_hits:,} cached · {report.failed:,} failed"
        if (asked := self.flight.get(self.latest or "")) is not None:
            line += f" · {self.latest}: question {asked.asked}/{asked.of}"
        return line

    def _advance(self, report: BatchReport) -> None:
        self.report = report
        self.bar.update(self.task, advance=1, stats=self.stats())


def done_lines(id: str, result: Result) -> list[str]:
    """What `--verbose` says of a finished article: its counts, cost and warnings, and why
    it is empty when its questions failed."""
    info = result.run
    counts = ", ".join(plural(len(items), kind) for kind, items in result.summary.by_kind())
    how = "cached" if info.cache_hit else f"{info.prompt_tokens + info.completion_tokens:,} tokens"
    lines = [f"ok {id}: {counts} ({how}, {plural(len(info.warnings), 'warning')})"]
    failed = [w for w in info.warnings if FAILED_QUESTION in w]
    if failed and not result.summary.items():
        # `requests` counts every attempt billed (re-asks and failed ones too), so it is no
        # count of questions: only the failures are named.
        lines.append(
            f"  {id} is empty because {plural(len(failed), 'question')} failed; first: {failed[0]}"
        )
    return lines


def tables(results: list[Result], *, plain: bool = False) -> Iterator[RenderableType]:
    """A table per article of what was found, then a line of totals. Actors go by their
    canonical names; `plain` draws the tables in ASCII (for a pipe or a file)."""
    shown = names_in(results)
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
            box=box.ASCII if plain else box.HEAVY_HEAD,
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
                Text(terminal(who(item, shown))),
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
