"""One answer from a model, apart from any client: the request body (what the cache key
hashes) and schema for the instructor mode, the body instructor would send (for the Batch
API), and a completion validated into an `Answer`, or salvaged item by item when re-asks
ran out: nothing paid for is lost. `llm.py` sends requests; this module says what they are
and what came back.
"""

from __future__ import annotations

import json
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

from summarizer.config import Config
from summarizer.errors import EndpointError, ExtractionError
from summarizer.usage import Usage, metered, record_attempt

MODES: dict[str, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    # llama-cpp-python's server rejects `json_schema` response formats but enforces a schema
    # given as `json_object` with a grammar: see `LLM._mode_body`.
    "llama": instructor.Mode.JSON_SCHEMA,
}


def pick_mode(config: Config) -> str:
    """The instructor mode that suits the endpoint, unless the user chose one."""
    if config.mode != "auto":
        return config.mode
    if config.embedded:
        return "llama"
    openai_hosted = any("api.openai.com" in url for url in config.base_url or ())
    return "tools" if openai_hosted else "json_schema"


# Fields that frame an answer but say nothing by themselves: an answer cut off after them
# has nothing worth keeping.
_FRAME = frozenset({"title", "lang", "dateline", "actors"})


@dataclass
class Answer:
    """A validated answer and what it cost: every attempt made for it (see `usage`)."""

    value: Any
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasks: int = 0
    warnings: list[str] = field(default_factory=list)
    requests: int = 1


@dataclass
class CallState:
    """What the hooks saw during one call (instructor keeps no per-call record for us)."""

    parse_errors: int = 0
    last_raw: str | None = None

    def hooks(self) -> Hooks:
        hooks = Hooks()
        hooks.on("parse:error", self._on_parse_error)
        hooks.on("completion:response", self.on_response)
        return hooks

    def _on_parse_error(self, *_: Any, **__: Any) -> None:
        self.parse_errors += 1

    def on_response(self, response: Any, *_: Any, **__: Any) -> None:
        self.last_raw = content(response)


def content(response: Any) -> str | None:
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


def answer(value: BaseModel, state: CallState, spent: Usage, context: dict[str, Any]) -> Answer:
    """The answer, with what every attempt made for it was billed (`spent`)."""
    return Answer(
        value=value,
        prompt_tokens=spent.prompt_tokens,
        completion_tokens=spent.completion_tokens,
        reasks=state.parse_errors,
        warnings=list(context.get("warnings", [])),
        requests=spent.requests,
    )


def recover(
    exc: Exception,
    model: type[BaseModel],
    state: CallState,
    spent: Usage,
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
        raise ExtractionError(f"request failed: {describe(cause)}", raw=state.last_raw) from exc
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
    if not any(v for k, v in value.model_dump().items() if k not in _FRAME):
        # An empty object, or one whose every item was invalid, is no answer at all.
        what = "before anything usable" if cut else "and nothing valid in it"
        raise ExtractionError(f"{reason} {what}", raw=raw) from exc
    salvaged = answer(value, state, spent, lenient)
    salvaged.warnings.insert(0, f"{reason}; kept the valid items of the last answer")
    return salvaged


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
    state = CallState()
    state.on_response(response)
    with metered() as spent:
        record_attempt(response)  # one request, billed as its usage says
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
        return recover(exc, model, state, spent, context, max_reasks=0)
    return answer(value, state, spent, context)


def describe(exc: BaseException | None) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown error"
