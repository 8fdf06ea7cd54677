"""How `summarizer run` scales with endpoints: articles per minute against 1, 2, 4 (and 8)
loopback endpoints that answer after a fixed delay, with the local engine and with
`--engine ray`.

    .venv/bin/python bench/scaling.py                   # the full grid, about 10 minutes
    .venv/bin/python bench/scaling.py --endpoints 1,2 --engines local --articles 200
    .venv/bin/python bench/scaling.py --write           # also write bench/SCALING.md

Each endpoint is a scripted OpenAI-protocol server (tests/stub_server.py) in its own process
on 127.0.0.1, playing a remote model: it answers at most `--slots` requests at once, each
after `--delay` seconds, so one endpoint serves slots/delay requests a second and the ideal
throughput grows linearly with the number of endpoints. The client is the real command in
a subprocess (`--strategy article`: one request per article, `--no-cache`: every article is
asked), with enough requests in flight to keep every slot busy; it runs the whole pipeline
(prompt, validation, grounding, writing) on articles the length of the seeds. Throughput is
measured between the first and the last finished article (so start-up, Ray's included, is
left out); wall time is reported beside it. Servers stop when the benchmark ends, or on
their own after `--server-lifetime` seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import ARTICLE, SEEDS, article_reply  # noqa: E402
from tests.stub_server import Reply, StubServer  # noqa: E402

SUMMARIZER = Path(sys.executable).with_name("summarizer")
SCALING_MD = REPO / "bench" / "SCALING.md"
RAY_WORKERS = 2  # a local Ray on this machine: one worker per core


def serve(delay: float, slots: int, lifetime: float, ready: Any, stop: Any) -> None:
    """One endpoint (a child process): `slots` requests at once, each `delay` seconds."""
    busy = threading.BoundedSemaphore(slots)

    def model(request: dict[str, Any]) -> Reply:
        with busy:
            time.sleep(delay)
        return Reply(article_reply())

    with StubServer(default=model) as server:
        ready.send(server.base_url)
        stop.wait(lifetime)


@dataclass
class Row:
    engine: str
    endpoints: int
    concurrency: int  # requests in flight the client allows (per worker with ray)
    articles: int
    per_minute: float  # finished articles per minute, first to last
    ideal: float  # what the endpoints can serve per minute
    wall_s: float  # the whole command, start-up included
    client_cpu_ms: float | None  # CPU time of the command per article (local engine only)
    cpu_busy: float  # share of the machine's CPU time busy during the run (all processes)
    load: float  # the machine's 1-minute load average just before the run

    @property
    def efficiency(self) -> float:
        return self.per_minute / self.ideal


def corpus(path: Path, count: int) -> None:
    """Seed-length articles the scripted answer fits: ARTICLE (whose sentences the answer
    cites) followed by a seed's text and a line that makes every request distinct."""
    seeds = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            text = f"{ARTICLE}\n{seeds[n % len(seeds)]}\nStory number {n}."
            out.write(json.dumps({"id": f"a{n:05d}", "text": text}) + "\n")


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def measure(
    engine: str, urls: list[str], args: argparse.Namespace, work: Path, inputs: Path
) -> Row:
    # Twice the endpoints' slots: a request waits at the endpoint while the client handles
    # an answer, so no slot idles until the client itself is the limit.
    in_flight = 2 * args.slots * len(urls)
    concurrency = in_flight if engine == "local" else math.ceil(in_flight / RAY_WORKERS)
    out = work / f"{engine}-{len(urls)}.jsonl"
    command = [
        str(SUMMARIZER),
        "run",
        str(inputs),
        "--out",
        str(out),
        *[arg for url in urls for arg in ("--base-url", url)],
        "--model",
        "stub-model",
        "--mode",
        "json_schema",
        "--strategy",
        "article",
        "--no-cache",
        "--concurrency",
        str(concurrency),
        "--quiet",
        "--engine",
        engine,
    ]
    if engine == "ray":
        command += ["--ray-workers", str(RAY_WORKERS)]
    env = {**os.environ, "SUMMARIZER_CONFIG": str(work / "none.toml")}
    (work / "none.toml").write_text("")
    load = os.getloadavg()[0]
    busy0, total0 = cpu_times()
    used0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    used1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, total1 = cpu_times()
    cpu = used1.ru_utime + used1.ru_stime - used0.ru_utime - used0.ru_stime
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    created = sorted(
        dt.datetime.fromisoformat(json.loads(line)["run"]["created"]).timestamp()
        for line in out.open()
    )
    first, last = created[0], created[-1]
    return Row(
        engine=engine,
        endpoints=len(urls),
        concurrency=concurrency,
        articles=len(created),
        per_minute=(len(created) - 1) / (last - first) * 60,
        ideal=len(urls) * args.slots / args.delay * 60,
        wall_s=wall,
        # Ray's workers are not this command's children: their CPU time is not counted.
        client_cpu_ms=cpu / len(created) * 1000 if engine == "local" else None,
        cpu_busy=(busy1 - busy0) / (total1 - total0),
        load=load,
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def markdown(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        "# Scaling out: articles per minute against 1, 2, 4 and 8 endpoints",
        "",
        "Written by `bench/scaling.py`; rerun it with `--write` to refresh. Machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}.",
        "",
        f"Each endpoint is a loopback server playing a remote model: {args.slots} requests at "
        f"once, each answered after {args.delay:g} s, so one endpoint serves "
        f"{args.slots / args.delay * 60:,.0f} requests a minute. The client is `summarizer run "
        "--strategy article --no-cache` (one request per article) on "
        f"{args.articles} seed-length articles, with {2 * args.slots} requests in flight per "
        f"endpoint (`--engine ray`: {RAY_WORKERS} local workers sharing them). Articles per "
        "minute are measured from the first to the last finished article, so start-up is "
        "left out; wall time includes it (a local Ray takes about 15 s to start).",
        "",
        "| engine | endpoints | --concurrency | articles/min | ideal | efficiency | wall s "
        "| client CPU ms/article | machine CPU busy | load before |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r.engine} | {r.endpoints} | {r.concurrency} | {r.per_minute:,.0f} | "
        f"{r.ideal:,.0f} | {r.efficiency:.0%} | {r.wall_s:.1f} | {_ms(r.client_cpu_ms)} | "
        f"{r.cpu_busy:.0%} | {r.load:.1f} |"
        for r in rows
    ]
    lines += ["", "Where the client saturates (efficiency first below 80%):", ""]
    costs = [r.client_cpu_ms for r in rows if r.client_cpu_ms is not None]
    for engine in dict.fromkeys(r.engine for r in rows):
        mine = [r for r in rows if r.engine == engine]
        best = max(mine, key=lambda r: r.per_minute)
        short = next((r for r in mine if r.efficiency < 0.8), None)
        where = f"at {short.endpoints} endpoints" if short else "not within this grid"
        lines.append(
            f"- {engine}: {where}; at most {best.per_minute:,.0f} articles/min "
            f"({best.endpoints} endpoints)."
        )
    if costs:
        cost = sum(costs) / len(costs)
        lines += [
            "",
            f"The local engine is one process: {cost:.0f} ms of CPU per article (prompt, "
            "HTTP, validation, grounding, writing) caps it near "
            f"{60_000 / cost:,.0f} articles a minute on a core of its own. `--engine ray` "
            f"spreads that work over its workers ({RAY_WORKERS} here, one per core). A load "
            f"above {os.cpu_count()} before a run means other work was competing for the cores, "
            "so the ceilings measured then are lower bounds.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", default="1,2,4,8", help="endpoint counts to try")
    parser.add_argument("--engines", default="local,ray", help="local, ray or both")
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per answer")
    parser.add_argument("--slots", type=int, default=4, help="answers at once per endpoint")
    parser.add_argument("--server-lifetime", type=float, default=3600)
    parser.add_argument("--write", action="store_true", help="write bench/SCALING.md")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    counts = [int(n) for n in args.endpoints.split(",")]
    engines = args.engines.split(",")

    stop = multiprocessing.Event()
    servers, urls = [], []
    for _ in range(max(counts)):
        ready, child_end = multiprocessing.Pipe()
        process = multiprocessing.Process(
            target=serve,
            args=(args.delay, args.slots, args.server_lifetime, child_end, stop),
            daemon=True,
        )
        process.start()
        servers.append(process)
        urls.append(ready.recv())
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
            work = Path(tmp)
            inputs = work / "articles.jsonl"
            corpus(inputs, args.articles)
            for engine in engines:
                for count in counts:
                    row = measure(engine, urls[:count], args, work, inputs)
                    rows.append(row)
                    print(
                        f"{engine:5} {count} endpoint(s): {row.per_minute:7,.0f} articles/min "
                        f"({row.efficiency:.0%} of {row.ideal:,.0f}), wall {row.wall_s:.1f} s, "
                        f"client CPU {_ms(row.client_cpu_ms)} ms/article, "
                        f"machine CPU busy {row.cpu_busy:.0%}",
                        flush=True,
                    )
    finally:
        stop.set()
        for process in servers:
            process.join(timeout=10)
    if args.json:
        args.json.write_text(
            json.dumps([{**asdict(r), "efficiency": r.efficiency} for r in rows], indent=2)
        )
    if args.write:
        SCALING_MD.write_text(markdown(rows, args), encoding="utf-8")
        print(f"wrote {SCALING_MD}")


if __name__ == "__main__":
    main()
