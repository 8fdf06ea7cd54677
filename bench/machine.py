"""What machine this is, and whether it is quiet enough to time something on."""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
from dataclasses import dataclass, field
from importlib import metadata


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [f for f in ("avx", "avx2", "fma", "f16c", "avx512f") if f in have]
    except OSError:
        pass
    return []


def mem_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> dict[str, object]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": cores(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "memory_gib": round(mem_gib(), 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "llama_cpp_python": version("llama-cpp-python"),
        "instructor": version("instructor"),
        "openai": version("openai"),
        "langextract": version("langextract"),
    }


def loadavg() -> float:
    return os.getloadavg()[0]


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies since boot, all CPUs."""
    with open("/proc/stat", encoding="utf-8") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def _tree_jiffies(pids: set[int]) -> int:
    """utime+stime of the given processes and all their descendants (threads included)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                raw = fh.read()
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        pid, ppid = int(entry), int(rest[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = int(rest[11]) + int(rest[12])
    total, todo, seen = 0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def foreign_busy(seconds: float = 2.0) -> float:
    """Share of all CPUs (0..1) used by processes outside this one's tree, over `seconds`."""
    mine = {os.getpid()}
    b0, t0 = _busy_jiffies()
    m0 = _tree_jiffies(mine)
    time.sleep(seconds)
    b1, t1 = _busy_jiffies()
    m1 = _tree_jiffies(mine)
    span = max(1, t1 - t0)
    return max(0.0, ((b1 - b0) - (m1 - m0)) / span)


@dataclass
class Quiet:
    """What a wait for a quiet machine found."""

    load_before: float
    load_start: float
    waited_s: float
    foreign: float  # share of CPU used by others just before starting
    quiet: bool


def wait_quiet(max_wait: float, threshold: float = 1.0, log=print) -> Quiet:
    """Wait until the 1-minute load average is below `threshold` or nobody else uses the CPU.

    Our own finished work keeps the load average up for a minute or two, so the wait also
    ends when other processes use under 10% of the CPUs (our tree idle) after the load has
    had 20 s to fall. Bounded by `max_wait` seconds: a busy machine is noted, not waited on.
    """
    started = time.monotonic()
    before = loadavg()
    foreign = foreign_busy(1.0)
    while True:
        load = loadavg()
        waited = time.monotonic() - started
        if load < threshold or (foreign < 0.10 and waited >= 20):
            return Quiet(before, load, round(waited, 1), round(foreign, 3), True)
        if waited >= max_wait:
            log(
                f"  machine still busy after {waited:.0f} s (load {load:.2f}, others "
                f"{foreign:.0%} CPU); measuring anyway"
            )
            return Quiet(before, load, round(waited, 1), round(foreign, 3), False)
        foreign = foreign_busy(2.0)


@dataclass
class Usage:
    """CPU used by others while a section ran: a measure of how disturbed it was."""

    pids: set[int]
    wall: float = 0.0
    foreign: float = 0.0
    _t: float = 0.0
    _b: int = 0
    _tot: int = 0
    _m: int = 0
    load_start: float = 0.0
    load_end: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> Usage:
        self.load_start = loadavg()
        self._b, self._tot = _busy_jiffies()
        self._m = _tree_jiffies(self.pids | {os.getpid()})
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        b, tot = _busy_jiffies()
        m = _tree_jiffies(self.pids | {os.getpid()})
        self.foreign = max(0.0, ((b - self._b) - (m - self._m)) / max(1, tot - self._tot))
        self.load_end = loadavg()


def git_state(repo: object) -> str:
    """The checked-out commit, marked when the work tree has local changes (read-only)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with local changes)" if dirty else "")
