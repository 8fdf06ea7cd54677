"""One article through every stage: read → chunk → prompt → LLM → validate → ground → merge.

`Summarizer` holds what a batch reuses (the model client, the embedded server, the cache);
`summarize(text)` is the one-call form over a shared default instance.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import time
from dataclasses import dataclass

from summarizer import dates
from summarizer.cache import ResponseCache, cache_key
from summarizer.chunking import Sentence, estimate_tokens, split_sentences
from summarizer.config import Config
from summarizer.errors import InputError
from summarizer.extraction import Extraction, extraction_context
from summarizer.llm import LLM, Answer, pick_mode, request_body
from summarizer.merge import merge_duplicates
from summarizer.prompts import build_messages, prompt_version
from summarizer.resolve import Article, build_summary
from summarizer.schema import Result, RunInfo

# Output budget: a fixed part for the summary and actors plus a share per sentence, since
# longer articles report more items. Generation dominates the cost on a CPU.
_BASE_OUTPUT_TOKENS = 400
_OUTPUT_TOKENS_PER_SENTENCE = 24
_MAX_OUTPUT_TOKENS = 4096


def _check_text(text: str, max_chars: int) -> None:
    """Reject what cannot be an article before anything is paid for."""
    if not text.strip():
        raise InputError("empty article: no text to summarise")
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
class _Job:
    article: Article
    messages: list[dict[str, str]]
    max_tokens: int
    key: str

    @property
    def sentences(self) -> list[Sentence]:
        return self.article.sentences


class Summarizer:
    """Summarise articles with one configuration; reuse it across a batch."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.load()
        self.cache = ResponseCache(self.config.cache_dir, self.config.cache)
        self._llm: LLM | None = None

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
    def llm(self) -> LLM:
        """The client, created on first use so cache hits never start the embedded model."""
        if self._llm is None:
            if self.config.embedded:
                from summarizer.embedded import get_server

                server = get_server(self.config)
                self._llm = LLM(self.config, server.base_url, self.endpoint, server.api_key)
            else:
                self._llm = LLM(self.config, str(self.config.base_url), self.endpoint)
        return self._llm

    def _prepare(
        self, text: str, id: str | None, title: str | None, published: dt.date | str | None
    ) -> _Job:
        _check_text(text, self.config.max_chars)
        sentences = split_sentences(text)
        article = Article(
            id=id or "article-" + hashlib.sha256(text.encode()).hexdigest()[:12],
            text=text,
            sentences=sentences,
            title=title,
            published=_published(published, text),
        )
        messages = build_messages(sentences, title=title, published=article.published)
        max_tokens = self.config.max_output_tokens or min(
            _MAX_OUTPUT_TOKENS, _BASE_OUTPUT_TOKENS + _OUTPUT_TOKENS_PER_SENTENCE * len(sentences)
        )
        if self.config.embedded:
            needed = sum(estimate_tokens(m["content"]) for m in messages) + max_tokens
            if needed > self.config.n_ctx:
                raise InputError(
                    f"article needs about {needed:,} tokens with its answer; the embedded "
                    f"model's context is {self.config.n_ctx:,} tokens (raise --n-ctx)"
                )
        key = cache_key(
            endpoint=self.endpoint,
            prompt_version=prompt_version(),
            mode=pick_mode(self.config),
            request=request_body(self.config, messages, max_tokens),
        )
        return _Job(article, messages, max_tokens, key)

    def estimate_prompt_tokens(self, text: str) -> int:
        """Prompt tokens an article will cost, without calling the model (for --dry-run)."""
        job = self._prepare(text, None, None, None)
        return sum(estimate_tokens(m["content"]) for m in job.messages)

    def _cached(self, job: _Job) -> Answer | None:
        value = self.cache.get(job.key)
        if value is None:
            return None
        context = extraction_context(job.sentences, lenient=True)
        return Answer(
            extraction=Extraction.model_validate(value["extraction"], context=context),
            prompt_tokens=value["prompt_tokens"],
            completion_tokens=value["completion_tokens"],
            reasks=value["reasks"],
            warnings=value["warnings"],
        )

    def _store(self, job: _Job, answer: Answer) -> None:
        self.cache.set(
            job.key,
            {
                "extraction": answer.extraction.model_dump(mode="json"),
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "reasks": answer.reasks,
                "warnings": answer.warnings,
            },
        )

    def _finish(self, job: _Job, answer: Answer, cache_hit: bool, started: float) -> Result:
        summary, warnings = build_summary(answer.extraction, job.article, strict=self.config.strict)
        return Result(
            summary=merge_duplicates(summary),
            run=RunInfo(
                model=self.config.model_name,
                endpoint=self.endpoint,
                prompt_version=prompt_version(),
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                latency_s=round(time.perf_counter() - started, 4),
                cache_hit=cache_hit,
                reasks=answer.reasks,
                warnings=[*self.cache.warnings, *answer.warnings, *warnings],
            ),
        )

    def summarize(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> Result:
        started = time.perf_counter()
        job = self._prepare(text, id, title, published)
        answer = self._cached(job)
        if answer is not None:
            return self._finish(job, answer, True, started)
        answer = self.llm.extract(job.messages, extraction_context(job.sentences), job.max_tokens)
        self._store(job, answer)
        return self._finish(job, answer, False, started)

    async def asummarize(
        self,
        text: str,
        *,
        id: str | None = None,
        title: str | None = None,
        published: dt.date | str | None = None,
    ) -> Result:
        started = time.perf_counter()
        job = self._prepare(text, id, title, published)
        answer = self._cached(job)
        if answer is not None:
            return self._finish(job, answer, True, started)
        answer = await self.llm.aextract(
            job.messages, extraction_context(job.sentences), job.max_tokens
        )
        self._store(job, answer)
        return self._finish(job, answer, False, started)


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
