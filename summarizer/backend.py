"""Which model answers: the embedded server on loopback, or a pool of remote endpoints.

Everything that depends on that choice lives here: the client (`connect`, started on first
use so cache hits never start the embedded model), its stable identity for cache keys and
run metadata (`endpoint_id`), and how many requests it takes at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from summarizer.answers import Answer
from summarizer.config import Config
from summarizer.endpoints import EndpointPool, pool_id
from summarizer.gguf import model_or_file


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


def endpoint_id(config: Config) -> str:
    """A stable name for the model behind an endpoint, for cache keys and run metadata.

    The embedded server's port changes on every start, so it never appears here.
    """
    if not config.embedded:
        return pool_id(config)
    model = model_or_file(config.model_name)
    if isinstance(model, Path):
        return f"embedded:{model.name}@{model.stat().st_size}"
    return f"embedded:{model.name}@{model.sha256[:12]}"


def max_concurrency(config: Config) -> int:
    """The embedded model serves one request at a time; remote endpoints take many."""
    return 1 if config.embedded else 256


def connect(config: Config) -> EndpointPool:
    """The client for the configured backend, starting the embedded server if it is the one."""
    if config.base_url is None:
        from summarizer.embedded import get_server  # loads llama_cpp: only when needed

        server = get_server(config)
        urls, key = [server.base_url], server.api_key
    else:
        urls, key = list(config.base_url), None
    return EndpointPool(config, urls, endpoint_id(config), key)
