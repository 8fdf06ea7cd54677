"""The benchmark's own llama.cpp server, the recording proxy in front of it, and the bare replay.

The server is started exactly as summarizer starts its embedded one (same class, same
command line) but by the benchmark, with its log in a temporary folder, so the log's
per-request lines ("prefix-match hit, remaining N prompt tokens to eval" and the
llama_perf timing block) belong to the benchmark's requests only. It dies with this
process (PR_SET_PDEATHSIG) and is stopped at exit.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

from bench.proxy import Exchange, RecordingProxy
from summarizer.backend import endpoint_id
from summarizer.config import Config, default_cache_dir
from summarizer.embedded import EmbeddedServer
from summarizer.endpoints import EndpointPool
from summarizer.gguf import model_path
from summarizer.pipeline import Summarizer
from summarizer.prompts import load_prompts

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
GOLD = REPO / "eval" / "gold"
# The strategy the benchmark measures as "the default": the library's own default, so the
# bench follows it when it changes (sections main, cache, concurrency; recorded in results).
DEFAULT_STRATEGY: str = Config.model_fields["strategy"].default

# One llama_perf block is printed per completion; a prefix-match line may precede it.
_PREFIX = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")
_PROMPT = re.compile(r"prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens")
_EVAL = re.compile(r"\s eval time =\s+([\d.]+) ms /\s+(\d+) runs")
_TOTAL = re.compile(r"total time =\s+([\d.]+) ms")


@dataclass
class Block:
    """What the server log says about one completion."""

    cached: int  # prompt tokens reused from the KV cache
    fresh: int  # prompt tokens evaluated
    prompt_ms: float
    gen_tokens: int
    gen_ms: float
    total_ms: float


class ServerLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def blocks(self, since: int) -> list[Block]:
        time.sleep(0.2)  # let the server's stderr reach the file
        with self.path.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", "replace")
        blocks: list[Block] = []
        cached = 0
        current: dict[str, Any] = {}
        for line in text.splitlines():
            if m := _PREFIX.search(line):
                cached = int(m.group(1))
            elif m := _PROMPT.search(line):
                current = {"prompt_ms": float(m.group(1)), "fresh": int(m.group(2))}
            elif (m := _EVAL.search(line)) and current:
                current.update(gen_ms=float(m.group(1)), gen_tokens=int(m.group(2)))
            elif (m := _TOTAL.search(line)) and current:
                current.setdefault("gen_ms", 0.0)
                current.setdefault("gen_tokens", 0)
                blocks.append(Block(cached=cached, total_ms=float(m.group(1)), **current))
                cached, current = 0, {}
        return blocks


@dataclass
class Replayed:
    seconds: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    contents: list[str | None] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return sum(self.seconds)


def split_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keyword arguments openai's create() knows, and the rest as extra_body."""
    known = ("model", "messages", "temperature", "max_tokens")
    return {k: body[k] for k in known if k in body}, {
        k: v for k, v in body.items() if k not in known
    }


class Bench:
    """Server, proxy, clients and scratch space shared by the sections."""

    def __init__(self, log=print) -> None:
        self.log = log
        self.tmp = Path(tempfile.mkdtemp(prefix="summarizer-bench-"))
        # Defaults only (no user config file or SUMMARIZER_* variables): reproducible.
        self.base_config = Config(cache_dir=self.tmp / "cache", cache="refresh")
        self.model_file = model_path(self.base_config.model_name, default_cache_dir())
        self.server = EmbeddedServer(
            self.model_file,
            alias=self.base_config.model_name,
            log_dir=self.tmp / "logs",
            n_ctx=self.base_config.n_ctx,
            threads=self.base_config.threads,
        )
        self.proxy: RecordingProxy | None = None
        self.client: openai.OpenAI | None = None
        self.server_log: ServerLog | None = None
        self.start_seconds = 0.0
        self._extra: list[EmbeddedServer] = []

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Bench:
        started = time.perf_counter()
        self.server.start()
        self.start_seconds = time.perf_counter() - started
        self.server_log = ServerLog(self.server.log_path)
        self.proxy = RecordingProxy(self.server.base_url).__enter__()
        self.client = openai.OpenAI(
            base_url=self.server.base_url, api_key=self.server.api_key, max_retries=0,
            timeout=1800,
        )  # fmt: skip
        return self

    def close(self) -> None:
        for server in self._extra:
            server.stop()
        if self.proxy is not None:
            self.proxy.__exit__()
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def extra_server(self, threads: int, api_key: str | None = None) -> EmbeddedServer:
        """Another server on the same model (for the concurrency section)."""
        server = EmbeddedServer(
            self.model_file,
            alias=self.base_config.model_name,
            log_dir=self.tmp / "logs",
            n_ctx=self.base_config.n_ctx,
            threads=threads,
        )
        if api_key:
            server.api_key = api_key  # one key for a pool (EndpointPool takes one)
        self._extra.append(server)
        return server

    @property
    def pids(self) -> set[int]:
        return {s.pid for s in (self.server, *self._extra) if s.pid}

    # -- summarizer ----------------------------------------------------------------------
    def config(self, **update: Any) -> Config:
        return self.base_config.model_copy(update=update)

    def summarizer(self, config: Config | None = None, *, direct: bool = False,
                   servers: list[EmbeddedServer] | None = None) -> Summarizer:  # fmt: skip
        """A Summarizer whose requests go through the recording proxy to the server (or
        straight to it, or to a pool of servers). Same client code as the embedded backend
        (an EndpointPool over the OpenAI client): only the base URLs differ."""
        config = config or self.base_config
        assert self.proxy is not None
        if servers:
            urls, key = [s.base_url for s in servers], servers[0].api_key
        else:
            urls = [self.server.base_url if direct else self.proxy.base_url]
            key = self.server.api_key
        pool = EndpointPool(config, urls, endpoint_id(config), key)
        return Summarizer(config, llm=pool)

    # -- raw requests ----------------------------------------------------------------------
    def _system(self) -> str:
        return load_prompts()["system.txt"].strip()

    def prime(self, client: openai.OpenAI | None = None) -> None:
        """Leave the system instructions in the KV cache and nothing of any article: the
        state a batch is in between two articles."""
        (client or self.client).chat.completions.create(  # type: ignore[union-attr]
            model=self.base_config.model_name,
            messages=[
                {"role": "system", "content": self._system()},
                {"role": "user", "content": "ok"},
            ],
            max_tokens=1,
            temperature=0,
        )

    def flush(self) -> None:
        """Leave nothing useful in the KV cache (a prompt sharing only the chat template's
        first tokens with ours)."""
        assert self.client is not None
        self.client.chat.completions.create(
            model=self.base_config.model_name,
            messages=[{"role": "user", "content": "x"}],
            max_tokens=1,
            temperature=0,
        )

    def replay(self, bodies: list[dict[str, Any]], *, flush_each: bool = False) -> Replayed:
        """Send recorded request bodies straight to the server with the plain openai client."""
        assert self.client is not None
        out = Replayed()
        for body in bodies:
            if flush_each:
                self.flush()
            kwargs, extra = split_body(body)
            started = time.perf_counter()
            response = self.client.chat.completions.create(**kwargs, extra_body=extra or None)
            out.seconds.append(time.perf_counter() - started)
            if response.usage is not None:
                out.prompt_tokens += response.usage.prompt_tokens
                out.completion_tokens += response.usage.completion_tokens
            out.contents.append(response.choices[0].message.content)
        return out

    def mark(self) -> tuple[int, int]:
        assert self.proxy is not None and self.server_log is not None
        return self.proxy.recorder.mark(), self.server_log.mark()

    def since(self, mark: tuple[int, int]) -> tuple[list[Exchange], list[Block]]:
        assert self.proxy is not None and self.server_log is not None
        return self.proxy.recorder.since(mark[0]), self.server_log.blocks(mark[1])


def seed_articles(limit: int | None = None, folder: Path | None = None) -> list[tuple[str, str]]:
    paths = sorted((folder or SEEDS).glob("*.txt"))
    if limit is not None:
        paths = paths[:limit]
    return [(p.stem, p.read_text(encoding="utf-8")) for p in paths]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def env(name: str, value: str):  # type: ignore[no-untyped-def]
    import os

    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
