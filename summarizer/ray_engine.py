"""`summarizer run --engine ray`: the same batch run, spread over a Ray cluster.

The articles become a Ray Data dataset; a pool of Ray actors (workers) each hold one
`Summarizer`, so they run the very same pipeline (prompts, validation, grounding, response
cache) on up to `--concurrency` articles at a time each, on an event loop. The driver (this
process) keeps what makes a run safe to stop and resume: it works out what is pending and
writes every outcome as blocks complete through the same `batch.Run` as the local engine
(results JSONL, its errors file, progress, --max-cost, the endpoint breaker). So the output
has the same shape and a rerun skips the finished ids.

`--rpm` here limits request starts per minute *per endpoint*, across the whole cluster: one
small actor (`StartTimes`) hands every worker the time its next request may start.

Ray is an optional extra (`pip install -e '.[ray]'` in the checkout). Without an address a local Ray
is started for the run and stopped after it; with one (`--ray-address auto` or
`ray://host:10001`) the run joins that cluster, whose nodes need summarizer installed and
should share the cache folder if answers are to be reused across nodes.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from summarizer.batch import Run
from summarizer.config import Config
from summarizer.endpoints import EndpointPool, Throttle, pool_id
from summarizer.errors import ConfigError, SummarizerError
from summarizer.inputs import Article, InputProblem, Source
from summarizer.pipeline import Summarizer
from summarizer.schema import Result

LOCAL_CPUS = 2
_BATCHES_PER_BLOCK = 2  # small dataset blocks stream results back sooner

Outcome = InputProblem | tuple[Article, Result | SummarizerError]


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray: pip install -e '.[ray]' (in the summarizer checkout)"
        ) from None
    return ray


def check(config: Config) -> None:
    """Refuse, before anything runs, what the Ray engine cannot do."""
    if config.base_url is None:
        raise ConfigError(
            "--engine ray needs remote endpoints (--base-url): the embedded model serves one "
            "request at a time"
        )
    _ray()


class StartTimes:
    """Request starts per endpoint, at most `rpm` a minute each, for every worker at once.

    Run as one Ray actor: a worker reserves the next free slot of an endpoint and waits for
    it, so starts are spaced 60/rpm seconds apart per endpoint whatever the number of
    workers, and idle time is never saved up into a burst. Slots are wall-clock times, so
    the time a reservation takes to reach a worker does not shift its start (the nodes'
    clocks are assumed to agree, as NTP keeps them within milliseconds).
    """

    def __init__(self, rpm: float) -> None:
        self.interval = 60.0 / rpm
        self._next: dict[str, float] = {}

    def reserve(self, url: str) -> float:
        """The wall-clock time (time.time()) at which the caller may start a request."""
        now = time.time()
        start = max(now, self._next.get(url, now))
        self._next[url] = start + self.interval
        return start


class _Worker:
    """One actor of the pool: one Summarizer, up to a batch (`concurrency` articles) at a time.

    The articles run on one event loop, as in the local engine: the pipeline's own work
    stays on one thread and the requests overlap.
    """

    def __init__(self, config: Config, start_times: Any) -> None:
        ray = _ray()
        throttle: Throttle | None = None
        if start_times is not None:

            def throttle(url: str) -> float:
                return max(0.0, ray.get(start_times.reserve.remote(url)) - time.time())

        assert config.base_url is not None  # RayEngine refuses the embedded model
        pool = EndpointPool(config, config.base_url, pool_id(config), throttle=throttle)
        self.summarizer = Summarizer(config, llm=pool)
        # One loop for the actor's life: the endpoint clients' connections belong to it.
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        sources = [pickle.loads(data) for data in batch["source"]]
        outcomes = asyncio.run_coroutine_threadsafe(self._all(sources), self.loop).result()
        return {"outcome": [pickle.dumps(o) for o in outcomes]}

    async def _all(self, sources: list[Source]) -> list[Outcome]:
        return await asyncio.gather(*map(self._one, sources))

    async def _one(self, source: Source) -> Outcome:
        item = await asyncio.to_thread(source.read)  # HTML extraction must not block the loop
        if isinstance(item, InputProblem):
            return item
        try:
            outcome: Result | SummarizerError = await self.summarizer.asummarize(
                item.text, id=item.id, title=item.title, published=item.published
            )
        except SummarizerError as exc:
            outcome = exc
        return replace(item, text=""), outcome  # the driver needs no text back


class RayEngine:
    """A `batch.Engine` that runs the pending articles on Ray (see the module docstring)."""

    def __init__(
        self, address: str | None = None, workers: int | None = None, rpm: float | None = None
    ) -> None:
        self.address = address
        self.workers = workers
        self.rpm = rpm

    def __call__(self, run: Run, sources: list[Source]) -> None:
        config = run.summarizer.config
        check(config)
        if not sources:
            return
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            self._start(ray)
        try:
            for outcome in self._outcomes(ray, run, config, sources):
                if isinstance(outcome, InputProblem):
                    run.problem(outcome)
                else:
                    run.settle(*outcome)
                if run.report.stopped:
                    break
        finally:
            if started:
                ray.shutdown()

    def _start(self, ray: Any) -> None:
        if self.address:
            ray.init(address=self.address, logging_level=logging.ERROR)
        else:
            ray.init(num_cpus=LOCAL_CPUS, include_dashboard=False, logging_level=logging.ERROR)

    def _outcomes(
        self, ray: Any, run: Run, config: Config, sources: list[Source]
    ) -> Iterator[Outcome]:
        """Each article's outcome as soon as its block is done, in no particular order."""
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the run shows its own progress
        for handler in logging.getLogger("ray.data").handlers:  # and its own summary
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.ERROR)
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        start_times = ray.remote(num_cpus=0)(StartTimes).remote(self.rpm) if self.rpm else None
        rows = [{"source": pickle.dumps(s)} for s in sources]
        blocks = -(-len(rows) // (run.concurrency * _BATCHES_PER_BLOCK))

        dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            _Worker,
            batch_size=run.concurrency,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
            fn_constructor_kwargs={"config": config, "start_times": start_times},
            num_cpus=1,
        )
        for row in dataset.iter_rows():
            yield pickle.loads(row["outcome"])
