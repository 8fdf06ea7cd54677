"""Several OpenAI-compatible endpoints used as one: the least busy takes each request, and
one that fails sits out a cool-down while the others carry on.

- Load: each request goes to the endpoint with the fewest requests in flight (ties: the one
  that has been sent fewest), so a slow server gets less work without any tuning.
- Failure: an endpoint is taken out of rotation for `Config.endpoint_cooldown` seconds when
  it fails in a way that is the endpoint's fault (`EndpointDown`: still failing after its
  transport retries, or refusing connections, which in a pool is given up at once), and
  the same request moves on to the next endpoint. After the cool-down it is tried again;
  one success puts it back for good.
- An article fails only when every endpoint is down: when none is in rotation, a request
  still probes the one whose cool-down ends first, so a pool never does worse than a
  single endpoint (and a pool of one behaves exactly as a single endpoint always did).
- A failure that is the request's own (HTTP 400, invalid output) is never retried
  elsewhere: every endpoint would answer it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from summarizer.answers import Answer
from summarizer.config import Config
from summarizer.errors import EndpointError
from summarizer.llm import LLM, EndpointDown

log = logging.getLogger(__name__)

# Seconds to wait before a request to the endpoint with this URL may start: how a rate limit
# shared by many processes (see ray_engine) reaches each request.
Throttle = Callable[[str], float]


def pool_id(config: Config) -> str:
    """The stable identity of a remote pool, for cache keys and run metadata: the model name
    and the sorted endpoint URLs (never a key).

    Which endpoint answered a request is not part of it, so a rerun hits the cache whichever
    endpoint is free or down, and the order of `--base-url` does not matter. The URLs stay in
    (as they always were for one endpoint, whose identity is unchanged) because one model name
    on two servers can be different weights or quantisations; adding an endpoint to a pool
    therefore starts a fresh cache for it.
    """
    urls = sorted(url.rstrip("/") for url in config.base_url or ())
    return f"{config.model_name}@{','.join(urls)}"


@dataclass
class _Endpoint:
    url: str
    llm: LLM
    in_flight: int = 0
    sent: int = 0
    down_until: float = 0.0  # time.monotonic() before which it is out of rotation


class EndpointPool:
    """Extraction requests spread over endpoints by load, with fail-over; sync and async."""

    def __init__(
        self,
        config: Config,
        urls: Sequence[str],
        identity: str,
        api_key: str | None = None,
        *,
        throttle: Throttle | None = None,
    ) -> None:
        if not urls:
            raise ValueError("an endpoint pool needs at least one URL")
        fail_over = len(urls) > 1
        self.endpoint = identity
        self.cooldown = config.endpoint_cooldown
        self.throttle = throttle
        self._endpoints = [
            _Endpoint(url, LLM(config, url, identity, api_key, fail_over=fail_over)) for url in urls
        ]
        self._lock = threading.Lock()  # counters are shared by threads and event loops alike

    def extract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        failed: dict[str, EndpointDown] = {}
        while (endpoint := self._acquire(failed)) is not None:
            try:
                with self._using(endpoint):
                    if self.throttle is not None:
                        time.sleep(self.throttle(endpoint.url))
                    return endpoint.llm.extract(messages, model, context, max_tokens)
            except EndpointDown as exc:
                failed[endpoint.url] = exc
        raise self._all_down(failed)

    async def aextract(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        context: dict[str, Any],
        max_tokens: int,
    ) -> Answer:
        failed: dict[str, EndpointDown] = {}
        while (endpoint := self._acquire(failed)) is not None:
            try:
                with self._using(endpoint):
                    if self.throttle is not None:
                        await asyncio.sleep(await asyncio.to_thread(self.throttle, endpoint.url))
                    return await endpoint.llm.aextract(messages, model, context, max_tokens)
            except EndpointDown as exc:
                failed[endpoint.url] = exc
        raise self._all_down(failed)

    def _acquire(self, failed: dict[str, EndpointDown]) -> _Endpoint | None:
        """The endpoint for the next attempt of a request that `failed` on some already."""
        with self._lock:
            now = time.monotonic()
            left = [e for e in self._endpoints if e.url not in failed]
            up = [e for e in left if e.down_until <= now]
            if up:
                chosen = min(up, key=lambda e: (e.in_flight, e.sent))
            elif left and not failed:  # every endpoint is down: probe the one back soonest
                chosen = min(left, key=lambda e: e.down_until)
            else:
                return None
            chosen.in_flight += 1
            chosen.sent += 1
            return chosen

    @contextlib.contextmanager
    def _using(self, endpoint: _Endpoint) -> Iterator[None]:
        """Count the request in flight; an `EndpointDown` takes the endpoint out of rotation,
        a success puts it back."""
        try:
            yield
        except EndpointDown as exc:
            with self._lock:
                endpoint.down_until = time.monotonic() + self.cooldown
            if len(self._endpoints) > 1:
                log.warning(
                    "%s out of rotation for %gs: %s", endpoint.url, self.cooldown, exc.reason
                )
            raise
        else:
            with self._lock:
                endpoint.down_until = 0.0
        finally:
            with self._lock:
                endpoint.in_flight -= 1

    def _all_down(self, failed: dict[str, EndpointDown]) -> EndpointError:
        errors = list(failed.values())
        if len(self._endpoints) == 1:
            return errors[0]
        reasons = "; ".join(e.reason for e in errors)
        return EndpointDown(
            f"all {len(self._endpoints)} endpoints are down ({reasons})", raw=errors[-1].raw
        )
