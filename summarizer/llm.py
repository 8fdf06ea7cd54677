"""The one seam to a model: instructor over the OpenAI client, for any compatible endpoint.

Two kinds of retry, kept apart:
- transport (tenacity, around each HTTP request): 429 honouring Retry-After, 5xx, timeouts
  and dropped connections, exponential backoff with jitter, bounded in attempts and time.
  These never reach the prompt.
- validation (instructor re-asks): the model sees its answer and the validation error only,
  at most `max_reasks` times, so the context stays bounded. When re-asks run out, the last
  answer is salvaged item by item (or, failing that, carried by the error): nothing paid for
  is lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from summarizer import redact
from summarizer.answers import (
    MODES,
    Answer,
    CallState,
    answer,
    describe,
    pick_mode,
    recover,
    request_body,
)
from summarizer.config import Config
from summarizer.errors import EndpointError
from summarizer.usage import metered, record_attempt

log = logging.getLogger(__name__)
# instructor logs every failed attempt at ERROR; retries are ours to report.
logging.getLogger("instructor").addHandler(logging.NullHandler())

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Not retried, but the endpoint's fault rather than the request's: a rejected key, or a
# server that does not serve this model. Another endpoint of a pool may still answer.
_UNUSABLE_STATUS = frozenset({401, 403, 404})
_KEY_REFUSED = frozenset({401, 403})
_HINTS = {
    401: "the API key was rejected",
    403: "the API key may not use this model or endpoint",
    404: "no such model or path: check --base-url and --model",
}


class EndpointDown(EndpointError):
    """The endpoint itself failed (unreachable, overloaded, erroring), not the request:
    another endpoint of a pool may answer the same request."""


class KeyRefused(EndpointDown):
    """HTTP 401/403: the endpoint refused the key. Every article would fail the same way,
    so a run stops at once; another endpoint of a pool, with its own key, may still answer."""


def url_hint(base_url: str) -> str:
    """A hint when a base URL lacks the /v1 that OpenAI-compatible servers serve under."""
    if "/v1" in urlsplit(base_url).path:
        return ""
    return f" (OpenAI-compatible servers usually serve under /v1: try {base_url.rstrip('/')}/v1)"


class _NotACompletion(Exception):
    """A 200 whose body is no chat completion (a proxy's error page): an endpoint fault."""

    def __init__(self, body: str) -> None:
        super().__init__("the endpoint answered with something that is not a chat completion")
        self.body = body


def _completion(raw: Any) -> Any:
    """The parsed completion of a raw response, after recording the attempt and what its
    body says was billed; a body that is no completion is kept as the body itself."""
    text = raw.http_response.text
    record_attempt(_json(text))
    response = raw.parse()
    if not getattr(response, "choices", None):
        raise _NotACompletion(text[:2000])
    return response


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _record_failure(exc: BaseException) -> None:
    """A failed attempt is a request too; an error body may report usage."""
    body = exc.response.text if isinstance(exc, openai.APIStatusError) else None
    record_attempt(_json(body) if body else None)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError | _NotACompletion):  # incl. timeouts, drops
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in _RETRY_STATUS


def _refused(exc: BaseException) -> bool:
    """A connection refused: nothing listens there, so retrying the same port is pointless
    while other endpoints can take the request."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _retry_after(exc: BaseException | None) -> float | None:
    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class LLM:
    """Extraction requests against one endpoint, sync and async.

    `fail_over`: the endpoint is one of several, so a refused connection is given up at once
    (as `EndpointDown`) instead of being retried with backoff.
    """

    def __init__(
        self,
        config: Config,
        base_url: str,
        endpoint: str,
        api_key: str | None = None,
        *,
        fail_over: bool = False,
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.endpoint = endpoint  # stable identity for logs and cache keys (no port, no key)
        self.mode = pick_mode(config)
        self.fail_over = fail_over
        key = api_key or (config.api_key.get_secret_value() if config.api_key else "sk-no-key")
        redact.register(key)
        common = {"base_url": base_url, "api_key": key, "timeout": config.request_timeout}
        # Raw responses: the body a 200 that is no completion carried, and every usage.
        sync_client = openai.OpenAI(max_retries=0, **common).chat.completions.with_raw_response
        async_client = openai.AsyncOpenAI(max_retries=0, **common).chat.completions
        self._create = instructor.patch(
            create=self._sync_transport(sync_client.create), mode=MODES[self.mode]
        )
        self._acreate = instructor.patch(
            create=self._async_transport(async_client.with_raw_response.create),
            mode=MODES[self.mode],
        )

    # -- transport retries -------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = wait_random_exponential(multiplier=0.5, max=30)(state)
        after = _retry_after(exc)
        return min(after, self.config.max_retry_time) if after is not None else backoff

    def _retryable(self, exc: BaseException) -> bool:
        return _transient(exc) and not (self.fail_over and _refused(exc))

    def _retry_args(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(self._retryable),
            "wait": self._wait,
            "stop": stop_after_attempt(self.config.max_attempts)
            | stop_after_delay(self.config.max_retry_time),
            "reraise": True,
            "before_sleep": lambda s: log.warning(
                "%s: %s; retrying (attempt %d)",
                self.endpoint,
                describe(s.outcome.exception() if s.outcome else None),
                s.attempt_number,
            ),
        }

    def _endpoint_error(self, exc: openai.APIError) -> EndpointError:
        """The failure in words that point at its cause, saying whether it was retried."""
        body = redact.redact(exc.response.text) if isinstance(exc, openai.APIStatusError) else None
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        if status in _KEY_REFUSED:
            return KeyRefused(
                f"endpoint {self.base_url} refused the API key (HTTP {status}): "
                f"{_HINTS[status]}; check OPENAI_API_KEY or --api-key (rerunning with the same "
                "key will not help); not retried",
                raw=body,
            )
        error = EndpointDown if _transient(exc) or status in _UNUSABLE_STATUS else EndpointError
        if self._retryable(exc):
            what = f"failed after retrying: {describe(exc)}"
        else:  # say what happened, and that retrying would not have helped
            hint = f" ({_HINTS[status]})" if status in _HINTS else ""
            where = url_hint(self.base_url) if status == 404 else ""
            what = f"{describe(exc)}{hint}{where}; not retried"
        return error(f"endpoint {self.base_url}: {what}", raw=body)

    def _not_a_completion(self, exc: _NotACompletion) -> EndpointError:
        return EndpointError(
            f"endpoint {self.base_url}: {exc}{url_hint(self.base_url)}",
            raw=redact.redact(exc.body),
        )

    def _sync_transport(self, create: Callable[..., Any]) -> Callable[..., Any]:
        def once(*args: Any, **kwargs: Any) -> Any:
            try:
                raw = create(*args, **kwargs)
            except openai.APIError as exc:
                _record_failure(exc)
                raise
            return _completion(raw)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return Retrying(**self._retry_args())(once, *args, **kwargs)
            except openai.APIError as exc:
                raise self._endpoint_error(exc) from exc
            except _NotACompletion as exc:
                raise self._not_a_completion(exc) from exc

        return call

    def _async_transport(self, create: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def once(*args: Any, **kwargs: Any) -> Any:
            # openai's decorated create hides that it is a coroutine function from tenacity.
            try:
                raw = await create(*args, **kwargs)
            except openai.APIError as exc:
                _record_failure(exc)
                raise
            return _completion(raw)

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await AsyncRetrying(**self._retry_args())(once, *args, **kwargs)
            except openai.APIError as exc:
                raise self._endpoint_error(exc) from exc
            except _NotACompletion as exc:
                raise self._not_a_completion(exc) from exc

        return call

    # -- requests ----------------------------------------------------------------------
    def extract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        state = CallState()
        with metered() as spent:
            try:
                value = self._create(
                    response_model=model,
                    max_retries=self.config.max_reasks,
                    context=context,
                    hooks=state.hooks(),
                    **request_body(self.config, messages, max_tokens, model),
                )
            except (InstructorRetryException, IncompleteOutputException, EndpointError) as exc:
                return recover(exc, model, state, spent, context, self.config.max_reasks)
            return answer(value, state, spent, context)

    async def aextract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        state = CallState()
        with metered() as spent:
            try:
                value = await self._acreate(
                    response_model=model,
                    max_retries=self.config.max_reasks,
                    context=context,
                    hooks=state.hooks(),
                    **request_body(self.config, messages, max_tokens, model),
                )
            except (InstructorRetryException, IncompleteOutputException, EndpointError) as exc:
                return recover(exc, model, state, spent, context, self.config.max_reasks)
            return answer(value, state, spent, context)
