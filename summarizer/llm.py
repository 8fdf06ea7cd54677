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

log = logging.getLogger(__name__)
# instructor logs every failed attempt at ERROR; retries are ours to report.
logging.getLogger("instructor").addHandler(logging.NullHandler())

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Not retried, but the endpoint's fault rather than the request's: a rejected key, or a
# server that does not serve this model. Another endpoint of a pool may still answer.
_UNUSABLE_STATUS = frozenset({401, 403, 404})
_KEY_REFUSED = frozenset({401, 403})


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


def _completion(response: Any) -> Any:
    if not getattr(response, "choices", None):
        raise _NotACompletion(str(response)[:2000])
    return response


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
        self._key = key
        common = {"base_url": base_url, "api_key": key, "timeout": config.request_timeout}
        sync_client = openai.OpenAI(max_retries=0, **common)
        async_client = openai.AsyncOpenAI(max_retries=0, **common)
        self._create = instructor.patch(
            create=self._sync_transport(sync_client.chat.completions.create), mode=MODES[self.mode]
        )
        self._acreate = instructor.patch(
            create=self._async_transport(async_client.chat.completions.create),
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

    def _redact(self, text: str | None) -> str | None:
        """An endpoint may echo the key back in an error: it never goes further."""
        if text and self._key and self._key in text:
            return text.replace(self._key, "[API key]")
        return text

    def _endpoint_error(self, exc: openai.APIError) -> EndpointError:
        """The failure in words that point at its cause; only transient ones were retried."""
        body = self._redact(exc.response.text) if isinstance(exc, openai.APIStatusError) else None
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
        if status in _KEY_REFUSED:
            return KeyRefused(
                f"endpoint {self.base_url} refused the API key (HTTP {status}): check "
                "OPENAI_API_KEY or --api-key (rerunning with the same key will not help)",
                raw=body,
            )
        unusable = status in _UNUSABLE_STATUS
        error = EndpointDown if _transient(exc) or unusable else EndpointError
        how = "failed after retrying" if _transient(exc) else "failed (not retried)"
        reason = f"endpoint {self.base_url} {how}: {describe(exc)}"
        return error(reason + (url_hint(self.base_url) if status == 404 else ""), raw=body)

    def _not_a_completion(self, exc: _NotACompletion) -> EndpointError:
        return EndpointError(
            f"endpoint {self.base_url}: {exc}{url_hint(self.base_url)}", raw=self._redact(exc.body)
        )

    def _sync_transport(self, create: Callable[..., Any]) -> Callable[..., Any]:
        def once(*args: Any, **kwargs: Any) -> Any:
            return _completion(create(*args, **kwargs))

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
            return _completion(await create(*args, **kwargs))

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
        try:
            value = self._create(
                response_model=model,
                max_retries=self.config.max_reasks,
                context=context,
                hooks=state.hooks(),
                **request_body(self.config, messages, max_tokens, model),
            )
        except (InstructorRetryException, IncompleteOutputException, EndpointError) as exc:
            return recover(exc, model, state, context, self.config.max_reasks)
        return answer(value, state, context)

    async def aextract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        state = CallState()
        try:
            value = await self._acreate(
                response_model=model,
                max_retries=self.config.max_reasks,
                context=context,
                hooks=state.hooks(),
                **request_body(self.config, messages, max_tokens, model),
            )
        except (InstructorRetryException, IncompleteOutputException, EndpointError) as exc:
            return recover(exc, model, state, context, self.config.max_reasks)
        return answer(value, state, context)
