"""The embedded backend: llama-cpp-python's OpenAI-compatible server on loopback, in a child
process, for the GGUF file `gguf.py` provides.

Local and remote endpoints thus go through the same OpenAI-client code; a crash or a runaway
generation in the server cannot take the caller down, and the server dies with us.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import IO

from summarizer.config import Config
from summarizer.errors import ModelError
from summarizer.gguf import MODELS, model_path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_LOG_TAIL_LINES = 25
_LOG_MAX_AGE = 7 * 86400


def _cpu_count() -> int:
    """Cores this process may use (cgroup/affinity aware on Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _free_port(preferred: int = 0) -> int:
    """`preferred` if it is free (a restarted server keeps its URL), else any free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: the old server's connections in TIME_WAIT do not block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(api_key: str) -> dict[str, str]:
    """Our environment minus what llama_cpp.server would read as its own settings.

    Its pydantic settings read any variable named like a setting (MODEL, N_CTX, CACHE, ...)
    and its __main__ lets HOST and PORT override the command line: an exported HOST=0.0.0.0
    would expose the server, an unrelated PORT would make us wait on the wrong port.
    The API key travels here, not in argv, so other local users cannot read it from ps.
    """
    from llama_cpp.server.settings import Settings  # loads libllama: only when starting

    names = {*Settings.model_fields, "config_file"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in names}
    env["API_KEY"] = api_key
    return env


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn making Linux SIGKILL the child when the spawning thread dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork, not in the child
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


# PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process: a server
# started from a short-lived worker thread would be killed with that thread. Every server
# is therefore forked from one daemon thread, which only ends when the process does (a
# pool's worker would end at interpreter shutdown, SIGKILLing the server before atexit).
_SpawnJob = tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]
_spawn_jobs: queue.SimpleQueue[_SpawnJob] = queue.SimpleQueue()
_spawner_lock = threading.Lock()
_spawner: threading.Thread | None = None


def _spawner_loop() -> None:
    while True:
        job, result = _spawn_jobs.get()
        try:
            result.set_result(job())
        except BaseException as exc:
            result.set_exception(exc)


def _spawn(cmd: list[str], env: dict[str, str], output: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own process group, tied to our lifetime, output to `output`."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(target=_spawner_loop, name="summarizer-spawn", daemon=True)
            _spawner.start()
    preexec = _die_with_parent()

    def job() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            process_group=0,
            preexec_fn=preexec,
        )

    result: Future[subprocess.Popen[bytes]] = Future()
    _spawn_jobs.put((job, result))
    return result.result()


class EmbeddedServer:
    """llama-cpp-python's OpenAI server for one GGUF file, on a free port of 127.0.0.1.

    Requests need `api_key` (random per object): the server allows any CORS origin, so
    without a key any web page open in a local browser could use it. A restart after a
    crash keeps the key and, when it is still free, the port.
    """

    def __init__(
        self,
        model: Path,
        *,
        alias: str,
        log_dir: Path,
        n_ctx: int = 8192,
        threads: int | None = None,
        start_timeout: float = 300.0,
    ) -> None:
        self.model = model
        self.alias = alias
        self.log_dir = log_dir
        self.n_ctx = n_ctx
        self.threads = threads
        self.start_timeout = start_timeout
        self.api_key = secrets.token_urlsafe(24)
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"server-{self.port}.log"

    @property
    def base_url(self) -> str:
        if not self.running:
            raise ModelError(f"the embedded model server for {self.model} is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        threads = str(self.threads or _cpu_count())
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", threads,
            "--n_threads_batch", threads,  # prompt processing; its default is all cores
            "--n_batch", "512",
            "--logits_all", "false",  # true (the default) doubles RAM and slows decoding
            "--use_mlock", "false",  # the default pins the whole model in RAM when allowed
            "--interrupt_requests", "false",  # true cuts a stream short when another arrives
        ]  # fmt: skip

    def start(self) -> EmbeddedServer:
        """Start the server (or restart it if it died) and wait until it answers."""
        if self.running:
            return self
        if self._proc is not None:
            log.warning(
                "embedded model server exited with code %s, restarting; log: %s",
                self._proc.returncode,
                self.log_path,
            )
            self.stop()
        self.port = _free_port(self.port)
        started = time.monotonic()
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            _prune_logs(self.log_dir)
            with self.log_path.open("ab") as output:  # a restart keeps the crash's log
                self._proc = _spawn(self.command(), _server_env(self.api_key), output)
        except OSError as exc:
            raise ModelError(f"cannot start the embedded model server: {exc}") from None
        atexit.register(self.stop)
        self._wait_ready(started + self.start_timeout)
        log.info(
            "embedded model server on %s ready in %.1f s (pid %d, log %s)",
            self.base_url,
            time.monotonic() - started,
            self._proc.pid,
            self.log_path,
        )
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while not self._answers():
            code = self._proc.poll()
            if code is not None:
                self.stop()
                raise ModelError(
                    f"the embedded model server exited (code {code}) while loading "
                    f"{self.model}; if that file is damaged, delete it and run again. "
                    f"Log {self.log_path}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ModelError(
                    f"the embedded model server did not answer within {self.start_timeout:.0f} s; "
                    f"log {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(0.25)

    def _answers(self) -> bool:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/models",
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def stop(self) -> None:
        """Terminate the server's process group; kill it if it has not exited in 3 s.

        A request in progress is not interrupted by SIGTERM (uvicorn waits for it) and the
        server holds nothing worth saving, so the wait is short.
        """
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _prune_logs(log_dir: Path) -> None:
    """Ports are random, so each start writes a new log: drop the ones older than a week."""
    cutoff = time.time() - _LOG_MAX_AGE
    for old in log_dir.glob("server-*.log"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


_SERVERS: dict[Path, EmbeddedServer] = {}
_SERVERS_LOCK = threading.Lock()


def get_server(config: Config) -> EmbeddedServer:
    """The process's one running server for the config's model, started on first use.

    Holding the lock through assembly and start makes concurrent callers wait for the same
    server instead of starting a second 2 GB process.
    """
    with _SERVERS_LOCK:
        path = model_path(config.model_name, config.cache_dir)
        server = _SERVERS.get(path)
        if server is None:
            alias = config.model_name if config.model_name in MODELS else path.name
            server = EmbeddedServer(
                path,
                alias=alias,
                log_dir=config.cache_dir / "logs",
                n_ctx=config.n_ctx,
                threads=config.threads,
            )
            _SERVERS[path] = server
        elif (server.n_ctx, server.threads) != (config.n_ctx, config.threads):
            raise ModelError(
                f"an embedded server for {path} already runs with n_ctx={server.n_ctx}, "
                f"threads={server.threads}; use one setting per process"
            )
        return server.start()
