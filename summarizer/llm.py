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
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import instructor
import jiter
import openai
from instructor.core.exceptions import IncompleteOutputException, InstructorRetryException
from instructor.processing.response import process_response
from instructor.v2.core.hooks import Hooks
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from summarizer.config import Config
from summarizer.errors import EndpointError, ExtractionError

log = logging.getLogger(__name__)
# instructor logs every failed attempt at ERROR; retries are ours to report.
logging.getLogger("instructor").addHandler(logging.NullHandler())

MODES: dict[str, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    # llama-cpp-python's server rejects `json_schema` response formats but enforces a schema
    # given as `json_object` with a grammar: see `LLM._mode_body`.
    "llama": instructor.Mode.JSON_SCHEMA,
}
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# Not retried, but the endpoint's fault rather than the request's: a rejected key, or a
# server that does not serve this model. Another endpoint of a pool may still answer.
_UNUSABLE_STATUS = frozenset({401, 403, 404})


def pick_mode(config: Config) -> str:
    """The instructor mode that suits the endpoint, unless the user chose one."""
    if config.mode != "auto":
        return config.mode
    if config.embedded:
        return "llama"
    openai_hosted = any("api.openai.com" in url for url in config.base_url or ())
    return "tools" if openai_hosted else "json_schema"


class EndpointDown(EndpointError):
    """The endpoint itself failed (unreachable, overloaded, erroring), not the request:
    another endpoint of a pool may answer the same request."""


# Fields that frame an answer but say nothing by themselves: an answer cut off after them
# has nothing worth keeping.
_FRAME = frozenset({"title", "dateline", "actors"})


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


@dataclass
class Answer:
    """A validated answer and what it cost."""

    value: Any
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasks: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class _CallState:
    """What the hooks saw during one call (instructor keeps no per-call record for us)."""

    parse_errors: int = 0
    last_raw: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def hooks(self) -> Hooks:
        hooks = Hooks()
        hooks.on("parse:error", self._on_parse_error)
        hooks.on("completion:response", self.on_response)
        return hooks

    def _on_parse_error(self, *_: Any, **__: Any) -> None:
        self.parse_errors += 1

    def on_response(self, response: Any, *_: Any, **__: Any) -> None:
        self.last_raw = _content(response)
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens or 0
            self.completion_tokens += usage.completion_tokens or 0


def _content(response: Any) -> str | None:
    """The assistant's text or tool arguments from a chat completion."""
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError):
        return None
    if message.tool_calls:
        return message.tool_calls[0].function.arguments
    return message.content


def request_body(
    config: Config, messages: list[dict[str, str]], max_tokens: int, model: type[BaseModel]
) -> dict[str, Any]:
    """What is sent besides instructor's own additions: also what the cache key hashes."""
    body: dict[str, Any] = {
        "model": config.model_name,
        "messages": messages,
        "temperature": config.temperature,
        "max_tokens": max_tokens,
    }
    if pick_mode(config) == "llama":
        schema = response_schema(model)
        body["extra_body"] = {"response_format": {"type": "json_object", "schema": schema}}
    return body


@cache
def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, built once: pydantic rebuilds it on every call, and even a
    cache hit needs it for the key. Shared: do not modify it."""
    return model.model_json_schema()


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
                _describe(s.outcome.exception() if s.outcome else None),
                s.attempt_number,
            ),
        }

    def _redact(self, text: str | None) -> str | None:
        """An endpoint may echo the key back in an error: it never goes further."""
        if text and self._key and self._key in text:
            return text.replace(self._key, "[API key]")
        return text

    def _endpoint_error(self, exc: openai.APIError) -> EndpointError:
        body = self._redact(exc.response.text) if isinstance(exc, openai.APIStatusError) else None
        unusable = isinstance(exc, openai.APIStatusError) and exc.status_code in _UNUSABLE_STATUS
        error = EndpointDown if _transient(exc) or unusable else EndpointError
        return error(f"endpoint {self.base_url} failed after retrying: {_describe(exc)}", raw=body)

    def _not_a_completion(self, exc: _NotACompletion) -> EndpointError:
        return EndpointError(f"endpoint {self.base_url}: {exc}", raw=self._redact(exc.body))

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
        state = _CallState()
        try:
            value = self._create(
                response_model=model,
                max_retries=self.config.max_reasks,
                context=context,
                hooks=state.hooks(),
                **request_body(self.config, messages, max_tokens, model),
            )
        except (InstructorRetryException, IncompleteOutputException, EndpointError) as exc:
            return _recover(exc, model, state, context, self.config.max_reasks)
        return _answer(value, state, context)

    async def aextract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        state = _CallState()
        try:
            value = await self._acreate(
                response_model=model,
                max_retries=self.config.max_reasks,
                context=context,
                hooks=state.hooks(),
                **request_body(self.config, messages, max_tokens, model),
            )
        except (InstructorRetryException, IncompleteOutputException, EndpointError) as exc:
            return _recover(exc, model, state, context, self.config.max_reasks)
        return _answer(value, state, context)


def _answer(value: BaseModel, state: _CallState, context: dict[str, Any]) -> Answer:
    return Answer(
        value=value,
        prompt_tokens=state.prompt_tokens,
        completion_tokens=state.completion_tokens,
        reasks=state.parse_errors,
        warnings=list(context.get("warnings", [])),
    )


def _recover(
    exc: Exception,
    model: type[BaseModel],
    state: _CallState,
    context: dict[str, Any],
    max_reasks: int,
) -> Answer:
    """Salvage the last paid-for answer item by item, or fail carrying it."""
    cause = exc.__cause__ if isinstance(exc, InstructorRetryException) else exc
    if isinstance(cause, EndpointError):
        raise cause from None
    if isinstance(exc, InstructorRetryException) and not isinstance(
        cause, ValidationError | json.JSONDecodeError | ValueError
    ):
        raise ExtractionError(f"request failed: {_describe(cause)}", raw=state.last_raw) from exc
    raw = state.last_raw
    cut = isinstance(exc, IncompleteOutputException)
    reason = (
        "output cut off at max_tokens"
        if cut
        else f"output still invalid after {max_reasks} re-asks"
        if max_reasks
        else "output invalid and no re-ask possible"
    )
    if not raw:
        raise ExtractionError(f"{reason}; no answer to salvage", raw=raw) from exc
    lenient = {**context, "lenient": True, "warnings": []}
    try:
        data = jiter.from_json(raw.encode(), partial_mode="trailing-strings")
        value = model.model_validate(data, context=lenient)
    except (ValueError, ValidationError) as again:
        first = str(again).splitlines()[0]
        raise ExtractionError(f"{reason}; salvage failed: {first}", raw=raw) from exc
    if cut and not any(v for k, v in value.model_dump().items() if k not in _FRAME):
        raise ExtractionError(f"{reason} before anything usable", raw=raw) from exc
    answer = _answer(value, state, lenient)
    answer.warnings.insert(0, f"{reason}; kept the valid items of the last answer")
    return answer


class _Captured(Exception):
    """Raised in place of sending a request whose body was only wanted."""


def shaped_request(
    config: Config,
    messages: list[dict[str, str]],
    max_tokens: int,
    model: type[BaseModel],
    context: dict[str, Any],
) -> dict[str, Any]:
    """The JSON body `LLM.extract` sends for a request, without sending it (for the Batch API).

    The body comes out of the same instructor patch the live path uses, stopped just before
    the HTTP call, so the tools or response_format for the mode and instructor's templating
    are exactly what `run` sends; `extra_body` is merged in as the OpenAI client does.
    """
    sent: list[dict[str, Any]] = []

    def capture(*_: Any, **body: Any) -> Any:
        sent.append(body)
        raise _Captured

    create = instructor.patch(create=capture, mode=MODES[pick_mode(config)])
    try:
        create(
            response_model=model,
            max_retries=0,
            context=context,
            **request_body(config, messages, max_tokens, model),
        )
    except InstructorRetryException as exc:
        if not isinstance(exc.__cause__, _Captured):
            raise
    body = dict(sent[0])
    body.update(body.pop("extra_body", None) or {})
    return body


def validate_completion(
    completion: dict[str, Any], model: type[BaseModel], mode: str, context: dict[str, Any]
) -> Answer:
    """A chat completion fetched outside the live path (a Batch API output line), parsed and
    validated as `LLM.extract` would; no re-ask is possible, so an invalid or cut-off answer
    is salvaged the same way (`_recover`) or fails as ExtractionError carrying it."""
    response = ChatCompletion.model_validate(completion)
    state = _CallState()
    state.on_response(response)
    try:
        value = process_response(
            response,
            response_model=model,
            stream=False,
            validation_context=context,
            strict=True,
            mode=MODES[mode],
        )
    except (ValidationError, ValueError, IncompleteOutputException) as exc:
        return _recover(exc, model, state, context, max_reasks=0)
    return _answer(value, state, context)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown error"
