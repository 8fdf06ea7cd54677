"""What the pipeline keeps in the response cache (`cache.py`): every request's answer and
every article's finished result, each under the key of everything that shapes it.

An answer's key holds the endpoint identity, the prompt version, the instructor mode and
the request itself (never which endpoint of a pool gave it, nor the API key). A result's
key also holds the article, the settings that shape it and `code_version()`, so a repeated
article costs about a millisecond and, after a code change, results are rebuilt from the
kept answers without paying for the model again. An entry of the wrong shape is a miss.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pydantic import BaseModel

from summarizer.answers import Answer, pick_mode, request_body
from summarizer.backend import endpoint_id
from summarizer.cache import ResponseCache, cache_key, code_version
from summarizer.chunking import Sentence
from summarizer.config import Config
from summarizer.extraction import extraction_context
from summarizer.prompts import prompt_version
from summarizer.schema import Result

log = logging.getLogger(__name__)

# Settings that decide nothing about an article's result, left out of its cache key.
_NOT_SHAPING = {
    "base_url", "api_key", "cache_dir", "cache", "timeout", "max_attempts", "max_retry_time",
    "price_per_mtok", "endpoint_cooldown", "threads", "max_chars",
}  # fmt: skip


def request_key(
    config: Config, messages: list[dict[str, str]], model: type[BaseModel], max_tokens: int
) -> str:
    """The cache key of one request: what shapes the answer, never which endpoint of a pool
    gives it (see `endpoints.pool_id`) nor the API key."""
    return cache_key(
        endpoint=endpoint_id(config),
        prompt_version=prompt_version(),
        mode=pick_mode(config),
        request=request_body(config, messages, max_tokens, model),
    )


def cached_answer(
    cache: ResponseCache, key: str, model: type[BaseModel], sentences: list[Sentence]
) -> Answer | None:
    """The cached answer, or None; an entry of the wrong shape is a miss, not a crash."""
    value = cache.get(key)
    if value is None:
        return None
    context = extraction_context(sentences, lenient=True)
    try:
        return Answer(
            value=model.model_validate(value["value"], context=context),
            prompt_tokens=value["prompt_tokens"],
            completion_tokens=value["completion_tokens"],
            reasks=value["reasks"],
            warnings=value["warnings"],
            requests=value.get("requests", 1 + value["reasks"]),  # older entries: at least
        )
    except (KeyError, TypeError, ValueError) as exc:  # ValidationError is a ValueError
        log.warning("cache entry %s unusable (%s): asking again", key[:12], exc)
        return None


def store_answer(cache: ResponseCache, key: str, answer: Answer) -> None:
    cache.set(
        key,
        {
            "value": answer.value.model_dump(mode="json"),
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "reasks": answer.reasks,
            "warnings": answer.warnings,
            "requests": answer.requests,
        },
    )


def result_key(
    config: Config, text: str, id: str | None, title: str | None, published: dt.date | str | None
) -> str:
    """A whole article's key: the article, every setting that shapes its result, the
    prompt version and the code version."""
    return cache_key(
        code_version=code_version(),
        endpoint=endpoint_id(config),
        prompt_version=prompt_version(),
        settings=config.model_dump(mode="json", exclude=_NOT_SHAPING),
        article=[text, id, title, None if published is None else str(published)],
    )


def cached_result(cache: ResponseCache, key: str) -> Result | None:
    """The article's finished result, or None: a repeated article costs no sentence
    splitting, no request keys and no resolution."""
    value = cache.get(key)
    if value is None:
        return None
    try:
        return Result.model_validate_json(value["result"])
    except (KeyError, TypeError, ValueError) as exc:  # ValidationError is a ValueError
        log.warning("cached result %s unusable (%s): rebuilding it", key[:12], exc)
        return None


def store_result(cache: ResponseCache, key: str, result: Result) -> None:
    cache.set(key, {"result": result.model_dump_json()})


def with_run(result: Result, cache: ResponseCache, **run: Any) -> Result:
    """The result as returned: with this run's cache warnings, which are not kept."""
    update = {**run, "warnings": [*cache.warnings, *result.run.warnings]}
    return result.model_copy(update={"run": result.run.model_copy(update=update)})
