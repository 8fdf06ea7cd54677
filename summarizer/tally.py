"""One article's questions: what they cost, how they went, and when the article fails.

The pipeline keeps a `Tally` per article; `Asked` is what it reports after each question
(signs of life the CLI renders). A failed optional question costs its answer, but an article
whose questions mostly failed is a failure, never an empty success.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from summarizer.answers import Answer
from summarizer.errors import ExtractionError
from summarizer.extraction import Extraction
from summarizer.strategies import Ask
from summarizer.usage import Usage

# How a failed optional question reads in an article's warnings (`--verbose` counts them).
FAILED_QUESTION = "request failed"
# An article fails, instead of being written as a success, when a required question (the
# overview; each request of the article strategy) fails or when at least this share of its
# questions failed (invalid after every re-ask, nothing salvageable): its answers then say
# more about the endpoint than about the article. Documented in docs/failure-modes.md.
FAILED_SHARE = 0.5


@dataclass
class Tally:
    """One article's questions: how they went, and what the cached answers once cost (this
    run's attempts are on the article's meter, see `usage`)."""

    cached: Usage = field(default_factory=Usage)
    reasks: int = 0
    questions: int = 0
    hits: int = 0
    chunks: int = 1
    failures: list[tuple[str, ExtractionError]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, answer: Answer, hit: bool) -> None:
        if hit:
            self.cached.add(Usage(answer.prompt_tokens, answer.completion_tokens, answer.requests))
        self.reasks += answer.reasks
        self.questions += 1
        self.hits += hit
        self.warnings.extend(answer.warnings)

    def failed(self, pending: Pending, exc: ExtractionError) -> None:
        """A failed optional question costs its answer, not the article (unless too many
        fail: see `check`)."""
        if pending.ask.required:
            raise exc
        self.questions += 1
        self.failures.append((pending.ask.task, exc))
        self.warnings.append(f"{pending.ask.task} {FAILED_QUESTION}: {exc.reason}")

    @property
    def complete(self) -> bool:
        """Every question answered: the result may be reused as a whole."""
        return not self.failures

    def check(self) -> None:
        """Fail the article when too many of its questions failed, carrying their answers."""
        failed = len(self.failures)
        if not failed or failed < FAILED_SHARE * self.questions:
            return
        raws = [f"[{task}] {exc.raw}" for task, exc in self.failures if exc.raw]
        raise ExtractionError(
            f"{failed} of {self.questions} questions failed, so the article did too "
            f"(first: {self.failures[0][1].reason})",
            raw="\n".join(raws) or None,
        )


@dataclass
class Pending:
    """A request the cache could not answer; `key` is its cache key."""

    messages: list[dict[str, str]]
    ask: Ask
    context: dict[str, Any]
    key: str

    @property
    def args(self) -> tuple[Any, ...]:
        return self.messages, self.ask.model, self.context, self.ask.max_tokens


Steps = Generator[Pending, Answer | None, Extraction]


@dataclass(frozen=True)
class Asked:
    """Signs of life inside one article: `asked` questions of the `of` the strategy expects
    so far (it may find more to ask), and the tokens they took (cache hits cost none now)."""

    asked: int
    of: int
    tokens: int


OnAsked = Callable[[Asked], None]
