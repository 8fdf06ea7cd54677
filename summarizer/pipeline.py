"""One article through every stage: read → chunk → prompt → LLM → validate → ground → merge.

`Summarizer` holds what a batch reuses (the model client, the embedded server, the cache);
`summarize(text)` is the one-call form over a shared default instance.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pydantic import BaseModel

from summarizer import dates
from summarizer.cache import ResponseCache, cache_key, code_version
from summarizer.chunking import Sentence, chunk_sentences, estimate_tokens, split_sentences
from summarizer.config import Config
from summarizer.endpoints import EndpointPool
from summarizer.errors import ConfigError, ExtractionError, InputError
from summarizer.extraction import (
    FOUND,
    KIND_WORDS,
    Extraction,
    Overview,
    SentenceReport,
    extraction_context,
)
from summarizer.inputs import check_text
from summarizer.llm import Answer, pick_mode, request_body
from summarizer.merge import merge_duplicates
from summarizer.prompts import build_messages, cue_sentences, prompt_version
from summarizer.resolve import Article, build_summary
from summarizer.schema import Result, RunInfo

log = logging.getLogger(__name__)

# Output budgets: generation dominates the cost on a CPU, and a cap stops a looping model.
_BASE_OUTPUT_TOKENS = 400
_OUTPUT_TOKENS_PER_SENTENCE = 24
_MAX_OUTPUT_TOKENS = 4096
_INSTRUCTION_TOKENS = 1500  # system prompt, example and task, with room to spare
_TASK_TOKENS = {"overview": 200, "classify": 16, "items": 700}


def _check_text(text: str, max_chars: int) -> None:
    """Reject what cannot be an article before anything is paid for (the batch's reader
    applies the same checks, so the library and the CLI judge an article alike)."""
    check_text(text)
    if "\x00" in text:
        raise InputError("binary data, not text (NUL bytes found)")
    if len(text) > max_chars:
        raise InputError(
            f"article has {len(text):,} characters; the limit is {max_chars:,} (--max-chars)"
        )


def _published(value: dt.date | str | None, text: str) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise InputError(f"published {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return dates.published_from_header(text)


@dataclass
class Ask:
    """One request of a plan: a task prompt, the model to fill, an output budget."""

    task: str
    model: type[BaseModel]
    max_tokens: int
    sentences: list[Sentence]  # the part of the article the request shows (a chunk or all)
    example: bool = False
    required: bool = False  # without its answer the article fails (with the raw answer kept)
    vars: dict[str, object] = field(default_factory=dict)


@dataclass
class _Tally:
    """What the requests for one article cost, summed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasks: int = 0
    requests: int = 0
    hits: int = 0
    chunks: int = 1
    complete: bool = True  # every question answered: the result may be reused as a whole
    warnings: list[str] = field(default_factory=list)

    def add(self, answer: Answer, hit: bool) -> None:
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        self.reasks += answer.reasks
        self.requests += 1
        self.hits += hit
        self.warnings.extend(answer.warnings)

    def failed(self, pending: Pending, exc: ExtractionError) -> None:
        """One failed optional question costs its answer, not the article."""
        if pending.ask.required:
            raise exc
        self.complete = False
        self.warnings.append(f"{pending.ask.task} request failed: {exc.reason}")


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


Plan = Generator[Ask, BaseModel | None, Extraction]
Steps = Generator[Pending, Answer | None, Extraction]


class Extractor(Protocol):
    """What answers requests: an endpoint pool, or answers fetched from the Batch API."""

    def extract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer: ...

    async def aextract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer: ...


def request_key(
    config: Config, messages: list[dict[str, str]], model: type[BaseModel], max_tokens: int
) -> str:
    """The cache key of one request: what shapes the answer, never which endpoint of a pool
    gives it (see `endpoints.pool_id`) nor the API key."""
    from summarizer.embedded import endpoint_id

    return cache_key(
        endpoint=endpoint_id(config),
        prompt_version=prompt_version(),
        mode=pick_mode(config),
        request=request_body(config, messages, max_tokens, model),
    )


# Settings that decide nothing about an article's result, left out of its cache key.
_NOT_SHAPING = {
    "base_url", "api_key", "cache_dir", "cache", "timeout", "max_attempts", "max_retry_time",
    "price_per_mtok", "endpoint_cooldown", "threads", "max_chars",
}  # fmt: skip


def _article_asks(chunks: list[list[Sentence]]) -> list[Ask]:
    """One request per chunk, none depending on another's answer."""
    return [
        Ask(
            "article",
            Extraction,
            min(_MAX_OUTPUT_TOKENS, _BASE_OUTPUT_TOKENS + _OUTPUT_TOKENS_PER_SENTENCE * len(chunk)),
            chunk,
            example=True,
            required=True,
        )
        for chunk in chunks
    ]


def _article_plan(chunks: list[list[Sentence]]) -> Plan:
    """Everything in one request per chunk: cheapest in calls, weakest in recall on small
    models."""
    parts: list[Extraction] = []
    for ask in _article_asks(chunks):
        answer = yield ask
        assert isinstance(answer, Extraction)
        parts.append(answer)
    first = parts[0]
    overview = Overview.model_construct(  # already validated (or salvaged) as part of `first`
        title=first.title, dateline=first.dateline, summary=first.summary
    )
    return _combined(overview, parts)


def _sentences_plan(chunks: list[list[Sentence]]) -> Plan:
    """An overview, then for each candidate sentence: what does it report, then the details.

    Small models miss most items when asked for everything at once but answer a focused
    question well; the shared article prefix keeps each follow-up question cheap. A long
    article is read chunk by chunk; a sentence in two chunks' overlap is asked about once.
    """
    overview = yield Ask("overview", Overview, _TASK_TOKENS["overview"], chunks[0])
    found: list[BaseModel] = []
    asked: set[int] = set()
    for chunk in chunks:
        for s in cue_sentences(chunk):
            if s.n in asked:
                continue
            asked.add(s.n)
            about = {"n": s.n, "sentence": s.text}
            report = yield Ask(
                "classify", SentenceReport, _TASK_TOKENS["classify"], chunk, vars=about
            )
            if not isinstance(report, SentenceReport) or report.reports == "nothing":
                continue
            items = yield Ask(
                "items",
                FOUND[report.reports],
                _TASK_TOKENS["items"],
                chunk,
                vars={**about, "kinds": KIND_WORDS[report.reports]},
            )
            if items is not None:
                found.append(_anchored(items, s.n))
    if not isinstance(overview, Overview):
        overview = Overview.model_construct(title=None, dateline=None, summary="")
    return _combined(overview, found)


def _combined(overview: Overview, parts: list[BaseModel]) -> Extraction:
    """One extraction from an overview and the answers that carry items."""
    return Extraction.model_construct(
        title=overview.title,
        dateline=overview.dateline,
        summary=overview.summary,
        actors=[a for p in parts for a in getattr(p, "actors", [])],
        meetings=[m for p in parts for m in getattr(p, "meetings", [])],
        agreements=[a for p in parts for a in getattr(p, "agreements", [])],
        disputes=[d for p in parts for d in getattr(p, "disputes", [])],
    )


def _anchored(found: BaseModel, n: int) -> BaseModel:
    """Every item found for sentence n cites sentence n first."""
    for key in ("meetings", "agreements", "disputes"):
        for item in getattr(found, key, []):
            item.ev = [n, *[e for e in item.ev if e != n]][:3]
    return found


PLANS: dict[str, Callable[[list[list[Sentence]]], Plan]] = {
    "article": _article_plan,
    "sentences": _sentences_plan,
}


class Summarizer:
    """Summarise articles with one configuration; reuse it across a batch."""

    def __init__(self, config: Config | None = None, *, llm: Extractor | None = None) -> None:
        """`llm` answers the requests the cache cannot; by default the configured endpoints
        (or the embedded model), started on first use."""
        self.config = config or Config.load()
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
        """The embedded model serves one request at a time; remote endpoints take many."""
        return 1 if self.config.embedded else 256

    @property
    def endpoint(self) -> str:
        """Stable endpoint identity (no port, no key) for cache keys and run metadata."""
        from summarizer.embedded import endpoint_id

        return endpoint_id(self.config)

    @property
    def llm(self) -> Extractor:
        """The client, created on first use so cache hits never start the embedded model."""
        if self._llm is None:
            if self.config.base_url is None:
                from summarizer.embedded import get_server

                server = get_server(self.config)
                urls, key = [server.base_url], server.api_key
            else:
                urls, key = list(self.config.base_url), None
            self._llm = EndpointPool(self.config, urls, self.endpoint, key)
        return self._llm

    def _article(
        self, text: str, id: str | None, title: str | None, published: dt.date | str | None
    ) -> Article:
        _check_text(text, self.config.max_chars)
        return Article(
            id=id or "article-" + hashlib.sha256(text.encode()).hexdigest()[:12],
            text=text,
            sentences=split_sentences(text),
            title=title,
            published=_published(published, text),
        )

    def _chunks(self, article: Article) -> list[list[Sentence]]:
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

    def _capped(self, ask: Ask) -> Ask:
        """The ask within the user's cap on every answer (max_output_tokens)."""
        cap = self.config.max_output_tokens
        return replace(ask, max_tokens=min(ask.max_tokens, cap)) if cap else ask

    def _request(self, article: Article, ask: Ask) -> tuple[list[dict[str, str]], str]:
        """The messages for one ask and the cache key of the whole request."""
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
        return messages, request_key(self.config, messages, ask.model, ask.max_tokens)

    def estimate_prompt_tokens(self, text: str) -> int:
        """Prompt tokens of an article's first request, without calling the model (--dry-run)."""
        article = self._article(text, None, None, None)
        first = next(PLANS[self.config.strategy](self._chunks(article)))
        messages, _ = self._request(article, first)
        return sum(estimate_tokens(m["content"]) for m in messages)

    def batch_requests(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> list[Pending]:
        """An article's requests that the cache cannot answer, all at once, for the Batch API.

        The Batch API cannot chain a request on an earlier answer, so only the "article"
        strategy qualifies: one request per chunk, none depending on another.
        """
        if self.config.strategy != "article":
            raise ConfigError(
                "the Batch API needs the article strategy (one request per article): "
                "the sentences strategy asks questions that depend on earlier answers"
            )
        article = self._article(text, id, title, published)
        wanted = []
        for ask in map(self._capped, _article_asks(self._chunks(article))):
            messages, key = self._request(article, ask)
            if self.cache.get(key) is None:
                wanted.append(Pending(messages, ask, extraction_context(article.sentences), key))
        return wanted

    def _cached(self, key: str, article: Article, ask: Ask) -> Answer | None:
        """The cached answer, or None; an entry of the wrong shape is a miss, not a crash."""
        value = self.cache.get(key)
        if value is None:
            return None
        context = extraction_context(article.sentences, lenient=True)
        try:
            return Answer(
                value=ask.model.model_validate(value["value"], context=context),
                prompt_tokens=value["prompt_tokens"],
                completion_tokens=value["completion_tokens"],
                reasks=value["reasks"],
                warnings=value["warnings"],
            )
        except (KeyError, TypeError, ValueError) as exc:  # ValidationError is a ValueError
            log.warning("cache entry %s unusable (%s): asking again", key[:12], exc)
            return None

    def _store(self, key: str, answer: Answer) -> None:
        self.cache.set(
            key,
            {
                "value": answer.value.model_dump(mode="json"),
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "reasks": answer.reasks,
                "warnings": answer.warnings,
            },
        )

    def _result_key(
        self, text: str, id: str | None, title: str | None, published: dt.date | str | None
    ) -> str:
        """A whole article's key: the article, every setting that shapes its result, the
        prompt version and the code version."""
        return cache_key(
            code_version=code_version(),
            endpoint=self.endpoint,
            prompt_version=prompt_version(),
            settings=self.config.model_dump(mode="json", exclude=_NOT_SHAPING),
            article=[text, id, title, None if published is None else str(published)],
        )

    def _kept(self, key: str, started: float) -> Result | None:
        """The article's finished result from the cache, or None: a repeated article costs no
        sentence splitting, no request keys and no resolution."""
        value = self.cache.get(key)
        if value is None:
            return None
        try:
            kept = Result.model_validate_json(value["result"])
        except (KeyError, TypeError, ValueError) as exc:  # ValidationError is a ValueError
            log.warning("cached result %s unusable (%s): rebuilding it", key[:12], exc)
            return None
        return self._reported(
            kept, cache_hit=True, latency_s=round(time.perf_counter() - started, 4)
        )

    def _reported(self, result: Result, **run: Any) -> Result:
        """The result as returned: with this run's cache warnings, which are not kept."""
        update = {**run, "warnings": [*self.cache.warnings, *result.run.warnings]}
        return result.model_copy(update={"run": result.run.model_copy(update=update)})

    def _finish(
        self, key: str, article: Article, extraction: Extraction, tally: _Tally, started: float
    ) -> Result:
        summary, warnings = build_summary(extraction, article, strict=self.config.strict)
        result = Result(
            summary=merge_duplicates(summary),
            run=RunInfo(
                model=self.config.model_name,
                endpoint=self.endpoint,
                prompt_version=prompt_version(),
                prompt_tokens=tally.prompt_tokens,
                completion_tokens=tally.completion_tokens,
                latency_s=round(time.perf_counter() - started, 4),
                cache_hit=tally.requests > 0 and tally.hits == tally.requests,
                reasks=tally.reasks,
                requests=tally.requests,
                chunks=tally.chunks,
                warnings=[*tally.warnings, *warnings],
            ),
        )
        if tally.complete:  # a failed question is asked again next time, not frozen in
            self.cache.set(key, {"result": result.model_dump_json()})
        return self._reported(result)

    def _steps(self, article: Article, tally: _Tally) -> Steps:
        """Run the plan, answering from the cache where possible; yield what must be asked."""
        chunks = self._chunks(article)
        tally.chunks = len(chunks)
        plan = PLANS[self.config.strategy](chunks)
        reply: BaseModel | None = None
        while True:
            try:
                ask = plan.send(reply)
            except StopIteration as done:
                return done.value
            ask = self._capped(ask)
            messages, key = self._request(article, ask)
            answer = self._cached(key, article, ask)
            hit = answer is not None
            if answer is None:
                answer = yield Pending(messages, ask, extraction_context(article.sentences), key)
                if answer is not None:
                    self._store(key, answer)
            reply = None
            if answer is not None:
                tally.add(answer, hit)
                reply = answer.value

    def summarize(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> Result:
        started, tally = time.perf_counter(), _Tally()
        key = self._result_key(text, id, title, published)
        if (kept := self._kept(key, started)) is not None:
            return kept
        article = self._article(text, id, title, published)
        steps = self._steps(article, tally)
        try:
            pending = next(steps)
            while True:
                try:
                    answer = self.llm.extract(*pending.args)
                except ExtractionError as exc:
                    answer = tally.failed(pending, exc)
                pending = steps.send(answer)
        except StopIteration as done:
            return self._finish(key, article, done.value, tally, started)

    async def asummarize(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> Result:
        started, tally = time.perf_counter(), _Tally()
        key = self._result_key(text, id, title, published)
        if (kept := self._kept(key, started)) is not None:
            return kept
        article = self._article(text, id, title, published)
        steps = self._steps(article, tally)
        try:
            pending = next(steps)
            while True:
                try:
                    answer = await self.llm.aextract(*pending.args)
                except ExtractionError as exc:
                    answer = tally.failed(pending, exc)
                pending = steps.send(answer)
        except StopIteration as done:
            return self._finish(key, article, done.value, tally, started)


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
