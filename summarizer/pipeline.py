"""One article through every stage: read → chunk → prompt → LLM → validate → ground → merge.

The strategy (`strategies.py`) plans the requests; each is answered from the cache
(`reuse.py`) or by the backend (`backend.py`); the answers are resolved, grounded and merged
into one `Result`. `Summarizer` holds what a batch reuses (the client, the cache);
`summarize(text)` is the one-call form over a shared default instance.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from pydantic import BaseModel

from summarizer import backend, dates, redact, reuse, strategies, usage
from summarizer.answers import Answer
from summarizer.backend import Extractor
from summarizer.cache import ResponseCache
from summarizer.chunking import Sentence, chunk_sentences, estimate_tokens, split_sentences
from summarizer.config import Config
from summarizer.errors import ExtractionError, InputError, SummarizerError
from summarizer.extraction import Extraction, extraction_context
from summarizer.inputs import check_text
from summarizer.merge import merge_duplicates
from summarizer.prompts import build_messages, prompt_version
from summarizer.resolve import Article, build_summary
from summarizer.schema import Result, RunInfo
from summarizer.strategies import Ask
from summarizer.tally import Asked, OnAsked, Pending, Steps, Tally
from summarizer.usage import Usage

_INSTRUCTION_TOKENS = 1500  # system prompt, example and task, with room to spare


def _published(value: dt.date | str | None, text: str) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(f"published {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return dates.published_from_header(text)


class Summarizer:
    """Summarise articles with one configuration; reuse it across a batch."""

    def __init__(self, config: Config | None = None, *, llm: Extractor | None = None) -> None:
        """`llm` answers the requests the cache cannot; by default the configured endpoints
        (or the embedded model), started on first use."""
        self.config = config or Config.load()
        redact.register(self.config.api_key)
        self.cache = ResponseCache(self.config.cache_dir, self.config.cache)
        self._llm = llm

    def __enter__(self) -> Summarizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.cache.close()

    @property
    def max_concurrency(self) -> int:
        return backend.max_concurrency(self.config)

    @property
    def endpoint(self) -> str:
        """Stable endpoint identity (no port, no key) for cache keys and run metadata."""
        return backend.endpoint_id(self.config)

    @property
    def llm(self) -> Extractor:
        """The client, created on first use so cache hits never start the embedded model."""
        if self._llm is None:
            self._llm = backend.connect(self.config)
        return self._llm

    def article(
        self,
        text: str,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> Article:
        """The checked article with its numbered sentences."""
        check_text(text, self.config.max_chars)
        return Article(
            id=id or "article-" + hashlib.sha256(text.encode()).hexdigest()[:12],
            text=text,
            sentences=split_sentences(text),
            title=title,
            published=_published(published, text),
        )

    def chunks(self, article: Article) -> list[list[Sentence]]:
        """The article in pieces that fit the model's context with room for the answer."""
        context = self.config.n_ctx if self.config.embedded else self.config.context_tokens
        budget = max(256, (context - _INSTRUCTION_TOKENS) // 2)
        chunks = chunk_sentences(article.sentences, budget) or [article.sentences]
        # Checked before the first request, so nothing is paid for an article that fails.
        for chunk in chunks:
            needed = sum(estimate_tokens(s.text) + 3 for s in chunk)
            if needed > context - _INSTRUCTION_TOKENS:
                limit = (
                    f"the embedded model's context is {context:,} tokens (raise --n-ctx)"
                    if self.config.embedded
                    else f"the model's context is {context:,} tokens (set context_tokens)"
                )
                raise InputError(
                    f"article needs about {needed + _INSTRUCTION_TOKENS:,} tokens for one "
                    f"passage without a sentence break; {limit}"
                )
        return chunks

    def request(self, article: Article, ask: Ask) -> Pending:
        """One ask as sent: within the user's cap on every answer, its messages, its key."""
        if cap := self.config.max_output_tokens:
            ask = replace(ask, max_tokens=min(ask.max_tokens, cap))
        messages = build_messages(
            ask.sentences,
            ask.task,
            title=article.title,
            published=article.published,
            example=ask.example,
            **ask.vars,
        )
        if self.config.embedded:
            needed = sum(estimate_tokens(m["content"]) for m in messages) + ask.max_tokens
            if needed > self.config.n_ctx:
                raise InputError(
                    f"article needs about {needed:,} tokens with its answer; the embedded "
                    f"model's context is {self.config.n_ctx:,} tokens (raise --n-ctx)"
                )
        key = reuse.request_key(self.config, messages, ask.model, ask.max_tokens)
        return Pending(messages, ask, extraction_context(article.sentences), key)

    def expected_requests(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> Iterator[tuple[Pending, bool]]:
        """Every request a run of the article would send, built as a run builds them, with
        the plan answered by its strategy's `Expectation` instead of a model (--dry-run).
        The flag marks a request asked only because of an expected answer: an estimate."""
        article = self.article(text, id, title, published)
        expect = strategies.expectation(self.config.strategy)
        plan = strategies.get(self.config.strategy)(self.chunks(article))
        asked: Counter[str] = Counter()
        reply: BaseModel | None = None
        while True:
            try:
                ask = plan.send(reply)
            except StopIteration:
                return
            yield self.request(article, ask), ask.task in expect.follow_ups
            reply = expect.answer(ask, asked[ask.task])
            asked[ask.task] += 1

    def _steps(self, article: Article, tally: Tally, on_asked: OnAsked | None = None) -> Steps:
        """Run the plan, answering from the cache where possible; yield what must be asked.
        `on_asked` hears after every question, answered or failed."""
        chunks = self.chunks(article)
        tally.chunks = len(chunks)
        plan = strategies.get(self.config.strategy)(chunks)
        reply: BaseModel | None = None
        asked = spent = 0
        while True:
            try:
                ask = plan.send(reply)
            except StopIteration as done:
                return done.value
            pending = self.request(article, ask)
            answer = reuse.cached_answer(self.cache, pending.key, ask.model, article.sentences)
            hit = answer is not None
            if answer is None:
                answer = yield pending
                if answer is not None:
                    reuse.store_answer(self.cache, pending.key, answer)
            reply = None
            if answer is not None:
                tally.add(answer, hit)
                reply = answer.value
                spent += 0 if hit else answer.prompt_tokens + answer.completion_tokens
            asked += 1
            if on_asked is not None:
                on_asked(Asked(asked, max(asked, ask.of or asked), spent))

    def is_kept(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> bool:
        """Whether the article's finished result is in the cache: summarising it sends nothing."""
        key = reuse.result_key(self.config, text, id, title, published)
        return reuse.cached_result(self.cache, key) is not None

    def _kept(self, key: str, started: float) -> Result | None:
        """The article's finished result from the cache, as returned now, or None."""
        kept = reuse.cached_result(self.cache, key)
        if kept is None:
            return None
        latency = round(time.perf_counter() - started, 4)
        return reuse.with_run(kept, self.cache, cache_hit=True, latency_s=latency)

    def _finish(
        self,
        key: str,
        article: Article,
        extraction: Extraction,
        tally: Tally,
        spent: Usage,
        started: float,
    ) -> Result:
        """The result, cached whole only when every question was answered; raises
        ExtractionError when too many were not (see FAILED_SHARE)."""
        tally.check()
        summary, warnings = build_summary(extraction, article, strict=self.config.strict)
        cost = Usage()
        cost.add(tally.cached)  # what the cached answers once cost, and this run's attempts
        cost.add(spent)
        result = Result(
            summary=merge_duplicates(summary).with_item_ids(),
            run=RunInfo(
                model=self.config.model_name,
                endpoint=self.endpoint,
                prompt_version=prompt_version(),
                prompt_tokens=cost.prompt_tokens,
                completion_tokens=cost.completion_tokens,
                latency_s=round(time.perf_counter() - started, 4),
                cache_hit=tally.questions > 0 and tally.hits == tally.questions,
                reasks=tally.reasks,
                requests=cost.requests,
                chunks=tally.chunks,
                warnings=[*tally.warnings, *warnings],
            ),
        )
        if tally.complete:  # a failed question is asked again next time, not frozen in
            reuse.store_result(self.cache, key, result)
        return reuse.with_run(result, self.cache)

    def summarize(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
        on_asked: OnAsked | None = None,
    ) -> Result:
        job = _Job(self, text, id, title, published, on_asked)
        with job.metered():
            while (pending := job.pending) is not None:
                try:
                    job.answer(self.llm.extract(*pending.args))
                except ExtractionError as exc:
                    job.failed(exc)
        return job.result

    async def asummarize(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
        on_asked: OnAsked | None = None,
    ) -> Result:
        job = _Job(self, text, id, title, published, on_asked)
        with job.metered():
            while (pending := job.pending) is not None:
                try:
                    job.answer(await self.llm.aextract(*pending.args))
                except ExtractionError as exc:
                    job.failed(exc)
        return job.result


class _Job:
    """One article on its way: its kept result, or the steps still to answer and then the
    result they build. Shared by `summarize` and `asummarize`, which only differ in how
    they ask."""

    def __init__(
        self,
        summarizer: Summarizer,
        text: str,
        id: str | None,
        title: str | None,
        published: dt.date | str | None,
        on_asked: OnAsked | None = None,
    ) -> None:
        self.summarizer, self.started, self.tally = summarizer, time.perf_counter(), Tally()
        self.spent = Usage()  # every attempt this run made for the article (see `metered`)
        self.key = reuse.result_key(summarizer.config, text, id, title, published)
        self.pending: Pending | None = None
        kept = summarizer._kept(self.key, self.started)
        if kept is not None:
            self._result = kept
            return
        self.article = summarizer.article(text, id, title, published)
        self.steps = summarizer._steps(self.article, self.tally, on_asked)
        self.answer(None)

    @property
    def result(self) -> Result:
        return self._result

    @contextlib.contextmanager
    def metered(self) -> Iterator[None]:
        """Count every attempt made inside on the article's meter; a failing article
        carries what its attempts were billed, for the run's spend."""
        try:
            with usage.metered(self.spent):
                yield
        except SummarizerError as exc:
            exc.usage = self.spent
            raise

    def answer(self, answer: Answer | None) -> None:
        """Hand the pending request its answer (None: none) and move to the next one."""
        try:
            self.pending = self.steps.send(answer)
        except StopIteration as done:
            self.pending = None
            self._result = self.summarizer._finish(
                self.key, self.article, done.value, self.tally, self.spent, self.started
            )

    def failed(self, exc: ExtractionError) -> None:
        """The pending request failed: the article fails if it needed the answer."""
        assert self.pending is not None
        self.tally.failed(self.pending, exc)  # raises when the article needs this answer
        self.answer(None)


_DEFAULTS: dict[str, Summarizer] = {}


def _default(config: Config | None) -> Summarizer:
    config = config or Config.load()
    key = config.model_dump_json()
    if key not in _DEFAULTS:
        if not _DEFAULTS:
            atexit.register(lambda: [s.close() for s in _DEFAULTS.values()])
        _DEFAULTS[key] = Summarizer(config)
    return _DEFAULTS[key]


def summarize(
    text: str,
    *,
    id: str | None = None,
    title: str | None = None,
    published: dt.date | str | None = None,
    config: Config | None = None,
) -> Result:
    """Summarise one article into a typed `Result` (summary plus run metadata)."""
    return _default(config).summarize(text, id=id, title=title, published=published)


async def asummarize(
    text: str,
    *,
    id: str | None = None,
    title: str | None = None,
    published: dt.date | str | None = None,
    config: Config | None = None,
) -> Result:
    """The async form of `summarize`, for many articles in flight against a remote endpoint."""
    return await _default(config).asummarize(text, id=id, title=title, published=published)
