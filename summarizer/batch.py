"""The batch runner: many articles through one Summarizer, resumably, with nothing lost.

Every finished article is one whole line appended to the output (see `writers.LineLog`), so:
- a rerun of the same command skips the ids already there, and the cache makes articles
  that were answered but not written (in flight at a crash) free;
- Ctrl-C or SIGTERM keeps every finished line and drops only the articles in flight;
- a failing article becomes a line in the errors file beside the output; the batch goes on.

Failures go to `<out>.errors.jsonl` (`results.errors.jsonl` for `results.jsonl`), each with
a time stamp. It lists what is still failing: an article that failed once and succeeds on a
rerun leaves it (`writers.forget_errors`), and the file goes once nothing is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiolimiter import AsyncLimiter

from summarizer.display import plural
from summarizer.errors import (
    CacheError,
    ConfigError,
    EndpointError,
    ModelError,
    SummarizerError,
)
from summarizer.inputs import Article, InputProblem, Inputs, Source
from summarizer.llm import KeyRefused
from summarizer.pipeline import Summarizer
from summarizer.schema import Result
from summarizer.tally import Asked
from summarizer.writers import LineLog, done_ids, errors_path, forget_errors, repair_tail

DEFAULT_CONCURRENCY = 4
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
# Failures that would repeat for every article: stop rather than write one line per article.
_FATAL = (ConfigError, ModelError, CacheError, KeyRefused)
_ENDPOINT_BREAKER = 5  # endpoint failures in a row (each after all its retries) that stop a run


@dataclass
class BatchReport:
    """What a run did; `remaining` articles were not attempted (stopped early)."""

    total: int = 0
    skipped: int = 0  # already in the output from an earlier run
    done: int = 0
    failed: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None  # USD, when the model has a price
    stopped: str | None = None  # why the run ended before every article was tried
    interrupted: bool = False

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - self.done - self.failed

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.failed or self.remaining else EXIT_OK


@dataclass(frozen=True)
class Repaired:
    """A file ended in a partial line from an interrupted run; `removed` bytes were cut."""

    path: Path
    removed: int


@dataclass(frozen=True)
class Started:
    """The run begins: `total` outcomes (articles and input problems) are to come."""

    total: int


@dataclass(frozen=True)
class Asking:
    """An article in flight answered one more question (see `tally.Asked`)."""

    id: str
    asked: Asked


@dataclass(frozen=True)
class Succeeded:
    """One article summarised and written; `report` holds the run's totals so far."""

    id: str
    result: Result
    report: BatchReport


@dataclass(frozen=True)
class Failed:
    """One article (or unusable input) written to errors.jsonl; `report` as above."""

    id: str
    source: str
    kind: str
    reason: str
    report: BatchReport


# What a run reports as it goes. The library never prints: the CLI renders these as a
# progress bar and lines (`terminal.BatchView`); a notebook or a service may do otherwise.
Event = Repaired | Started | Asking | Succeeded | Failed
Listener = Callable[[Event], None]


def ignore_events(event: Event) -> None:
    """The listener of a run nobody watches."""


def cost_usd(prompt: int, completion: int, price: tuple[float, float] | None) -> float | None:
    """USD for a number of tokens at (prompt, completion) USD per million; None if unpriced."""
    if price is None:
        return None
    return (prompt * price[0] + completion * price[1]) / 1_000_000


def start_limiter(rpm: float | None) -> AsyncLimiter | None:
    """Request starts at most `rpm` a minute, evenly spaced from the very first: a bucket of
    one, so a run never opens with a burst and idle time is not saved up into one."""
    return AsyncLimiter(1, 60.0 / rpm) if rpm else None


def pending(inputs: Inputs, out: Path) -> tuple[list[Source], list[InputProblem], int]:
    """What is left to do: sources and input problems whose id is not in `out`, and the count
    of those that are (skipped)."""
    done = done_ids(out)
    sources = [s for s in inputs.sources if s.id not in done]
    problems = [p for p in inputs.problems if p.id not in done]
    skipped = len(inputs.sources) + len(inputs.problems) - len(sources) - len(problems)
    return sources, problems, skipped


def local_engine(run: Run, sources: list[Source]) -> None:
    """Summarise `sources` on this process's event loop, `run.concurrency` at a time."""
    asyncio.run(run.all(sources))


# What summarises the pending sources, handing each outcome to `Run.problem` or `Run.settle`
# and stopping once `run.report.stopped` is set: this process (`local_engine`) or a cluster
# (`ray_engine.RayEngine`). Everything else about a run is the same for both.
Engine = Callable[["Run", list[Source]], None]


def run_batch(
    inputs: Inputs,
    summarizer: Summarizer,
    out: Path,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    rpm: float | None = None,
    max_cost: float | None = None,
    on_event: Listener = ignore_events,
    engine: Engine = local_engine,
) -> BatchReport:
    """Summarise every input not yet in `out`, appending results to it and failures to
    its errors file beside it. Returns when all are done, on Ctrl-C/SIGTERM, at `max_cost`
    (USD, needs `price_per_mtok`) or on a failure that every article would repeat.

    `concurrency` is capped by what the backend allows (1 for the embedded model); `rpm`
    caps request starts per minute. `on_event` hears how the run goes (see `Event`).
    `engine` runs the articles (see `Engine`); its own limits, if any, are its own.
    """
    errors = errors_path(out)
    for path in (out, errors):
        if cut := repair_tail(path):
            on_event(Repaired(path, cut))
    forget_errors(errors, done_ids(out))  # e.g. after a run that crashed before doing it
    sources, problems, skipped = pending(inputs, out)
    report = BatchReport(
        total=len(inputs.sources) + len(inputs.problems),
        skipped=skipped,
        cost=cost_usd(0, 0, summarizer.config.price_per_mtok),
    )
    on_event(Started(len(sources) + len(problems)))
    with LineLog(out) as results, LineLog(errors) as failures:
        run = Run(
            summarizer,
            report,
            results,
            failures,
            on_event,
            concurrency=max(1, min(concurrency, summarizer.max_concurrency)),
            limiter=start_limiter(rpm),
            max_cost=max_cost,
        )
        for problem in problems:
            run.problem(problem)
        try:
            engine(run, sources)
        except (KeyboardInterrupt, asyncio.CancelledError):
            report.stopped, report.interrupted = "interrupted", True
    forget_errors(errors, done_ids(out))  # an article that succeeded now leaves the file
    return report


def describe(report: BatchReport, out: Path) -> list[str]:
    """The closing lines a user reads after a run."""
    parts = [f"{plural(report.done, 'article')} summarised into {out}"]
    if report.failed:
        parts.append(f"{report.failed:,} failed (see {errors_path(out)})")
    if report.skipped:
        parts.append(f"{report.skipped:,} already done")
    tokens = report.prompt_tokens + report.completion_tokens
    stats = f"{tokens:,} tokens, {plural(report.cache_hits, 'cache hit')}"
    if report.cost is not None:
        stats += f", ~${report.cost:.4f}"
    lines = [", ".join(parts) + f" ({stats})"]
    if report.stopped:
        lines.append(
            f"stopped: {report.stopped}; {plural(report.remaining, 'article')} left. "
            "Rerun the same command to resume."
        )
    return lines


class Run:
    """The state one batch run shares between its concurrent workers (one event loop), and
    the one place an article's outcome is written, whichever engine produced it."""

    def __init__(
        self,
        summarizer: Summarizer,
        report: BatchReport,
        results: LineLog,
        failures: LineLog,
        on_event: Listener,
        *,
        concurrency: int,
        limiter: AsyncLimiter | None,
        max_cost: float | None,
    ) -> None:
        self.summarizer = summarizer
        self.report = report
        self.results = results
        self.failures = failures
        self.on_event = on_event
        self.concurrency = concurrency
        self.limiter = limiter
        self.max_cost = max_cost
        self.endpoint_failures = 0

    async def all(self, sources: list[Source]) -> None:
        main = asyncio.current_task()
        if main is not None:  # SIGTERM stops like Ctrl-C: finished lines kept, in-flight dropped
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
        queue = iter(sources)
        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.concurrency, len(sources))):
                group.create_task(self._worker(queue))

    async def _worker(self, queue: Iterator[Source]) -> None:
        while not self.report.stopped and (source := next(queue, None)) is not None:
            await self._one(source)

    async def _one(self, source: Source) -> None:
        item = await asyncio.to_thread(source.read)  # HTML extraction must not block the loop
        if isinstance(item, InputProblem):
            self.problem(item)
            return
        if self.limiter is not None and not self.summarizer.is_kept(
            item.text, id=item.id, title=item.title, published=item.published
        ):  # a kept result sends nothing, so it takes no slot
            await self.limiter.acquire()
        try:
            result = await self.summarizer.asummarize(
                item.text,
                id=item.id,
                title=item.title,
                published=item.published,
                on_asked=lambda asked: self.on_event(Asking(item.id, asked)),
            )
        except SummarizerError as exc:
            self.settle(item, exc)
            return
        self.settle(item, result)

    def problem(self, problem: InputProblem) -> None:
        self.fail(problem.id, problem.source, problem.kind, problem.reason, None)

    def settle(self, article: Article, outcome: Result | SummarizerError) -> None:
        """Write how one article ended and decide whether the run goes on."""
        if isinstance(outcome, SummarizerError):
            if outcome.usage is not None:  # a failed article's attempts were billed too
                self._spend(outcome.usage.prompt_tokens, outcome.usage.completion_tokens)
            self.fail(article.id, article.source, outcome.kind, outcome.reason, outcome.raw)
            self._maybe_stop(outcome)
        else:
            self.endpoint_failures = 0
            self.succeed(article, outcome)

    def _maybe_stop(self, exc: SummarizerError) -> None:
        self.endpoint_failures = self.endpoint_failures + 1 if isinstance(exc, EndpointError) else 0
        if isinstance(exc, _FATAL):
            self.report.stopped = f"{exc.kind} error: {exc.reason}"
        elif self.endpoint_failures >= _ENDPOINT_BREAKER:
            self.report.stopped = (
                f"the endpoint failed {self.endpoint_failures} articles in a row ({exc.reason})"
            )

    def succeed(self, article: Article, result: Result) -> None:
        if article.warnings:  # the read stage's warnings (e.g. invalid UTF-8) travel along
            run = result.run.model_copy(
                update={"warnings": [*result.run.warnings, *article.warnings]}
            )
            result = result.model_copy(update={"run": run})
        if article.url and not result.summary.url:  # and so does where it was read from
            summary = result.summary.model_copy(update={"url": article.url})
            result = result.model_copy(update={"summary": summary})
        self.results.append(result.model_dump_json())
        report, info = self.report, result.run
        report.done += 1
        if info.cache_hit:
            report.cache_hits += 1
        else:  # a cache hit costs nothing now, whatever it cost when it was made
            self._spend(info.prompt_tokens, info.completion_tokens)
        self.on_event(Succeeded(article.id, result, report))

    def _spend(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Count tokens billed, and stop starting articles once --max-cost is reached."""
        report = self.report
        report.prompt_tokens += prompt_tokens
        report.completion_tokens += completion_tokens
        price = self.summarizer.config.price_per_mtok
        report.cost = cost_usd(report.prompt_tokens, report.completion_tokens, price)
        if self.max_cost is not None and (report.cost or 0.0) >= self.max_cost:
            report.stopped = f"--max-cost ${self.max_cost:g} reached (~${report.cost:.4f} spent)"

    def fail(self, id: str, source: str, kind: str, reason: str, raw: str | None) -> None:
        time = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        record = {
            "id": id,
            "source": source,
            "kind": kind,
            "reason": reason,
            "raw": raw,
            "time": time,
        }
        self.failures.append(json.dumps(record, ensure_ascii=False))
        self.report.failed += 1
        self.on_event(Failed(id, source, kind, reason, self.report))
