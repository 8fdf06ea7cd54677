"""Benchmark summarizer against the bare model and against langextract, on this machine.

    .venv/bin/python bench/run.py              # everything, all seed articles (~90 min on 2 cores)
    .venv/bin/python bench/run.py --quick      # 2 articles, smaller samples (~35 min)
    .venv/bin/python bench/run.py --articles 3 --sections main,cache,grounding
    .venv/bin/python bench/run.py --sections main,strategies --merge  # the default's goals
    .venv/bin/python bench/run.py --report-only  # re-render from bench/results.json

"The default" is the library's configured default strategy (bench.core.DEFAULT_STRATEGY);
section strategies measures it beside `article` (one request per article) and `select` (the
model picks the sentences to ask about) in the same run, plus `sentences` with
--with-sentences (slow) and `kinds` unless --no-kinds.

Writes bench/results.json (every figure), bench/RESULTS.md and docs/bench.md. Everything
runs on 127.0.0.1: a llama.cpp server started here (it dies with this process), a
recording proxy in front of it, and langextract (a bench-only dependency) for the peer.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import machine
from bench.core import DEFAULT_STRATEGY, GOLD, REPO, Bench, seed_articles

RESULTS_JSON = REPO / "bench" / "results.json"
RESULTS_MD = REPO / "bench" / "RESULTS.md"
DOCS_MD = REPO / "docs" / "bench.md"
SECTIONS = ("main", "cache", "grounding", "prefix", "strategies", "peer", "concurrency")

_T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def quiet(args: argparse.Namespace, what: str) -> dict[str, Any]:
    q = machine.wait_quiet(args.max_wait, log=log)
    log(f"{what}: load {q.load_start:.2f} (others {q.foreign:.0%} CPU, waited {q.waited_s:.0f} s)")
    return vars(q)


# -- sections ----------------------------------------------------------------------------
def section_main(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                 state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Default strategy, cache bypassed, then the same requests replayed bare."""
    from bench.tokens import article_tokens
    from summarizer.schema import Result

    s = b.summarizer(b.config(strategy=DEFAULT_STRATEGY, cache="refresh"))
    rows = []
    state["main"] = {}
    for article_id, text in arts:
        for attempt in range(args.retries + 1):
            q = quiet(args, f"main {article_id}")
            b.prime()
            mark = b.mark()
            with machine.Usage(b.pids) as u1:
                result: Result = s.summarize(text, id=article_id)
            exchanges, blocks = b.since(mark)
            bodies = [e.body for e in exchanges]
            b.prime()
            mark = b.mark()
            with machine.Usage(b.pids) as u2:
                replay = b.replay(bodies)
            _, rblocks = b.since(mark)
            disturbed = max(u1.foreign, u2.foreign) > args.foreign_limit
            log(
                f"  {article_id}: summarizer {u1.wall:.1f} s, bare {replay.wall:.1f} s, "
                f"{len(bodies)} requests, others {u1.foreign:.0%}/{u2.foreign:.0%} CPU"
            )
            if not disturbed or attempt == args.retries:
                break
            log("  disturbed by other processes: measuring this article again")
        toks = article_tokens(b.tokenizer, article_id, text, exchanges, blocks)
        same = sum(a == e.content for a, e in zip(replay.contents, exchanges, strict=True))
        upstream = sum(e.seconds for e in exchanges)
        rows.append({
            "id": article_id, "chars": len(text), "attempts": attempt + 1,
            "load_start": round(q["load_start"], 2),
            "foreign_cpu": [round(u1.foreign, 3), round(u2.foreign, 3)],
            "wall_s": round(u1.wall, 3), "latency_s": result.run.latency_s,
            "requests": len(exchanges), "reasks": result.run.reasks,
            "by_task": toks.by_task,
            "prompt_tokens": toks.prompt_tokens, "completion_tokens": toks.completion_tokens,
            "fresh_tokens": toks.fresh_tokens, "text_tokens": toks.text_tokens,
            "by_part": toks.by_part, "detail": toks.requests_detail,
            "upstream_s": round(upstream, 3),
            "server_ms": round(sum(x.total_ms for x in blocks), 1),
            "replay_s": round(replay.wall, 3),
            "replay_completion_tokens": replay.completion_tokens,
            "replay_fresh_tokens": sum(x.fresh for x in rblocks),
            "identical_outputs": same,
            "ratio": round(u1.wall / replay.wall, 4),
            "in_run_ratio": round(u1.wall / upstream, 4),
            "warnings": len(result.run.warnings),
        })  # fmt: skip
        state["main"][article_id] = {
            "result": result,
            "bodies": bodies,
            "blocks": blocks,
            "exchanges": exchanges,
        }
    total_wall = sum(r["wall_s"] for r in rows)
    total_replay = sum(r["replay_s"] for r in rows)
    total_upstream = sum(r["upstream_s"] for r in rows)
    return {
        "strategy": DEFAULT_STRATEGY,
        "rows": rows,
        "articles": len(rows),
        "wall_s_per_article": round(total_wall / len(rows), 2),
        "ratio": round(total_wall / total_replay, 4),
        "in_run_ratio": round(total_wall / total_upstream, 4),
        "overhead_s_per_article": round((total_wall - total_replay) / len(rows), 3),
        "client_s_per_article": round((total_wall - total_upstream) / len(rows), 3),
    }


def section_cache(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                  state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Articles seen before. Run after the main section, its cache holds them; run alone,
    the user's own cache is used (filled by `summarizer run seeds/` or `summarizer eval`,
    else by the model on the first, untimed call)."""
    from bench.micro import cache_hits
    from summarizer.config import default_cache_dir

    quiet(args, "cache hits")
    update: dict[str, Any] = {"strategy": DEFAULT_STRATEGY, "cache": "use"}
    if "main" not in state:
        update["cache_dir"] = default_cache_dir()
    s = b.summarizer(b.config(**update))
    out = cache_hits(s, arts, args.timeit_runs)
    s.close()
    return {"strategy": DEFAULT_STRATEGY, **out}


def section_grounding(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                      state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    from bench.micro import grounding_timing

    quiet(args, "grounding")
    return grounding_timing([t for _, t in seed_articles()], max(50, args.timeit_runs * 4))


def section_prefix(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                   state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The first K requests of the first article, with and without a reusable KV cache."""
    from bench.tokens import task_of

    if "main" not in state:
        raise RuntimeError("needs the main section (its recorded requests are replayed)")
    article_id = next(iter(state["main"]))
    bodies = state["main"][article_id]["bodies"][: args.prefix_requests]
    q = quiet(args, "prefix reuse")
    b.prime()
    mark = b.mark()
    with_reuse = b.replay(bodies)
    _, blocks_with = b.since(mark)
    mark = b.mark()
    without = b.replay(bodies, flush_each=True)
    _, blocks_all = b.since(mark)
    blocks_without = blocks_all[1::2]  # every other block is the flush request
    rows = []
    for i, body in enumerate(bodies):
        rows.append({
            "task": task_of(body),
            "with_s": round(with_reuse.seconds[i], 2),
            "with_fresh": blocks_with[i].fresh if i < len(blocks_with) else None,
            "without_s": round(without.seconds[i], 2),
            "without_fresh": blocks_without[i].fresh if i < len(blocks_without) else None,
        })  # fmt: skip
    prompt_ms = sum(x.prompt_ms for x in blocks_without)
    prompt_tok = sum(x.fresh for x in blocks_without)
    ms_per_token = prompt_ms / prompt_tok if prompt_tok else float("nan")
    # Whole-article estimate: the bare time plus evaluating what the cache served.
    estimates = []
    for r in state["results"]["main"]["rows"]:
        cached = sum(x.cached for x in state["main"][r["id"]]["blocks"])
        estimates.append({
            "id": r["id"], "with_s": r["replay_s"], "cached_tokens": cached,
            "without_est_s": round(r["replay_s"] + cached * ms_per_token / 1000, 1),
        })  # fmt: skip
    return {
        "article": article_id,
        "load_start": q["load_start"],
        "requests": rows,
        "with_s": round(with_reuse.wall, 2),
        "without_s": round(without.wall, 2),
        "same_outputs": sum(
            a == c for a, c in zip(with_reuse.contents, without.contents, strict=True)
        ),
        "prompt_ms_per_token": round(ms_per_token, 2),
        "estimates": estimates,
    }


def _strategy_run(
    b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace, name: str, strategy: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from bench.tokens import article_tokens

    s = b.summarizer(b.config(strategy=strategy, cache="refresh"))
    rows, preds = [], {}
    for article_id, text in arts:
        q = quiet(args, f"{name} {article_id}")
        b.prime()
        mark = b.mark()
        with machine.Usage(b.pids) as u:
            result = s.summarize(text, id=article_id)
        exchanges, blocks = b.since(mark)
        toks = article_tokens(b.tokenizer, article_id, text, exchanges, blocks)
        log(f"  {name} {article_id}: {u.wall:.1f} s, {len(exchanges)} requests")
        rows.append({
            "id": article_id, "wall_s": round(u.wall, 2), "load_start": round(q["load_start"], 2),
            "foreign_cpu": round(u.foreign, 3), "requests": len(exchanges),
            "reasks": result.run.reasks,
            "prompt_tokens": toks.prompt_tokens, "fresh_tokens": toks.fresh_tokens,
            "completion_tokens": toks.completion_tokens, "text_tokens": toks.text_tokens,
            "by_part": toks.by_part, "detail": toks.requests_detail,
            "warnings": len(result.run.warnings),
        })  # fmt: skip
        preds[article_id] = result.summary
    s.close()
    return rows, preds


def _scored(preds: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    from summarizer.eval.gold import load_gold
    from summarizer.eval.scorer import score

    gold = {k: v for k, v in load_gold(GOLD).items() if k in ids}
    report = score(gold, preds)
    kinds = {
        k: {"f1": round(v.counts.f1, 3), "precision": round(v.counts.precision, 3),
            "recall": round(v.counts.recall, 3), "tp": v.counts.tp, "fp": v.counts.fp,
            "fn": v.counts.fn}
        for k, v in report.kinds.items()
    }  # fmt: skip
    c = report.overall.counts
    return {
        "f1": round(report.f1, 3), "precision": round(c.precision, 3),
        "recall": round(c.recall, 3), "tp": c.tp, "fp": c.fp, "fn": c.fn,
        "f1_ci": [round(x, 3) for x in report.f1_ci] if report.f1_ci else None,
        "kinds": kinds,
        "per_article_f1": {k: round(v.f1, 3) for k, v in report.per_article.items()},
    }  # fmt: skip


def _totals(rows: list[dict[str, Any]], key: str = "wall_s") -> dict[str, Any]:
    n = len(rows)
    return {
        "articles": n,
        "wall_s_per_article": round(sum(r[key] for r in rows) / n, 2),
        "requests_per_article": round(sum(r["requests"] for r in rows) / n, 1),
        "prompt_tokens_per_article": round(sum(r["prompt_tokens"] for r in rows) / n),
        "fresh_tokens_per_article": round(sum(r["fresh_tokens"] for r in rows) / n),
        "completion_tokens_per_article": round(sum(r["completion_tokens"] for r in rows) / n),
        "text_tokens_per_article": round(sum(r["text_tokens"] for r in rows) / n),
    }


def section_strategies(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                       state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The default against the one-request `article` strategy and the variants, all measured
    in this run (the default's figures come from section main when it ran, else it runs
    here), so the ratios the report checks compare like with like."""
    from bench.strategies import kinds_prompt

    ids = [i for i, _ in arts]
    out: dict[str, Any] = {"default": DEFAULT_STRATEGY}

    def measure(name: str) -> None:
        rows, preds = _strategy_run(b, arts, args, name, name)
        out[name] = {**_totals(rows), "score": _scored(preds, ids), "rows": rows}

    main = state["results"].get("main") or {}
    if "main" in state and "rows" in main:
        rows = main["rows"]
        preds = {i: state["main"][i]["result"].summary for i in ids if i in state["main"]}
        out[DEFAULT_STRATEGY] = {**_totals(rows), "score": _scored(preds, ids), "rows": None}
        # rows: None, they are in the main section
    else:
        measure(DEFAULT_STRATEGY)
    for name in ("article", "select"):
        if name != DEFAULT_STRATEGY:
            measure(name)
    if args.with_sentences and DEFAULT_STRATEGY != "sentences":
        measure("sentences")
    if not args.no_kinds:
        with kinds_prompt():
            measure("kinds")
    return out


def section_peer(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                 state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    from bench import peer

    try:
        import langextract
    except ImportError:
        return {"skipped": "langextract is not installed: pip install -e '.[bench]'"}
    assert b.proxy is not None
    url, key = b.proxy.base_url, b.server.api_key
    log("peer: warm-up (langextract's instructions into the KV cache, untimed)")
    peer.extract("Ana Ruiz met Tomas Berg.", url, key)
    rows, preds, counts = [], {}, {}
    for article_id, text in arts:
        q = quiet(args, f"langextract {article_id}")
        mark = b.mark()
        with machine.Usage(b.pids) as u:
            doc, seconds = peer.extract(text, url, key)
        exchanges, blocks = b.since(mark)
        summary, n = peer.to_summary(article_id, text, doc)
        preds[article_id] = summary
        counts[article_id] = n
        usage = [e.usage or {} for e in exchanges]
        log(f"  langextract {article_id}: {seconds:.1f} s, {len(exchanges)} requests")
        rows.append({
            "id": article_id, "wall_s": round(seconds, 2), "load_start": round(q["load_start"], 2),
            "foreign_cpu": round(u.foreign, 3), "requests": len(exchanges),
            "prompt_tokens": sum(int(x.get("prompt_tokens") or 0) for x in usage),
            "completion_tokens": sum(int(x.get("completion_tokens") or 0) for x in usage),
            "fresh_tokens": sum(x.fresh for x in blocks),
            "text_tokens": b.tokenizer.count(text),
            "extractions": n,
            "items_after_mapping": len(summary.items()),
        })  # fmt: skip
    ids = [i for i, _ in arts]
    return {
        "version": getattr(langextract, "__version__", machine.version("langextract")),
        **_totals(rows), "score": _scored(preds, ids), "rows": rows,
    }  # fmt: skip


def section_concurrency(b: Bench, arts: list[tuple[str, str]], args: argparse.Namespace,
                        state: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    import openai

    from bench import concurrency

    work = concurrency.leads(seed_articles(), args.concurrency_work)
    cfg = b.config(strategy=DEFAULT_STRATEGY, cache="refresh")
    cores = machine.cores()
    single: dict[str, Any] = {}
    for n in args.concurrency:
        q = quiet(args, f"concurrency: 1 server, {n} clients")
        b.prime()
        s = b.summarizer(cfg, direct=True)
        with machine.Usage(b.pids) as u:
            single[str(n)] = concurrency.run([s] * n, work)
        single[str(n)].update(load_start=round(q["load_start"], 2), foreign_cpu=round(u.foreign, 3))
        log(f"  1 server, {n} clients: {single[str(n)]['articles_per_min']} articles/min")
    multi: dict[str, Any] = {}
    sticky: dict[str, Any] = {}
    for n in args.concurrency:
        if n == 1:
            multi["1"] = {**single["1"], "threads_each": b.server.threads or cores}
            sticky["1"] = multi["1"]
            continue
        threads = max(1, cores // n)
        servers = [b.extra_server(threads, api_key=b.server.api_key) for _ in range(n)]
        for srv in servers:
            srv.start()
        primers = [
            threading.Thread(target=b.prime, args=(openai.OpenAI(
                base_url=srv.base_url, api_key=srv.api_key, max_retries=0, timeout=600),))
            for srv in servers
        ]  # fmt: skip
        for t in primers:
            t.start()
        for t in primers:
            t.join()
        q = quiet(args, f"concurrency: {n} servers x {threads} thread(s)")
        pooled = b.summarizer(cfg, servers=servers)  # the library's pool over N endpoints
        with machine.Usage(b.pids) as u:
            multi[str(n)] = concurrency.run([pooled] * n, work)
        multi[str(n)].update(threads_each=threads, load_start=round(q["load_start"], 2),
                             foreign_cpu=round(u.foreign, 3))  # fmt: skip
        log(f"  {n} servers, one pool: {multi[str(n)]['articles_per_min']} articles/min")
        if not args.no_affinity:
            for srv in servers:
                b.prime(openai.OpenAI(base_url=srv.base_url, api_key=srv.api_key,
                                      max_retries=0, timeout=600))  # fmt: skip
            q = quiet(args, f"concurrency: {n} servers, one client each")
            own = [b.summarizer(cfg, servers=[srv]) for srv in servers]
            with machine.Usage(b.pids) as u:
                sticky[str(n)] = concurrency.run(own, work)
            sticky[str(n)].update(threads_each=threads, load_start=round(q["load_start"], 2),
                                  foreign_cpu=round(u.foreign, 3))  # fmt: skip
            log(
                f"  {n} servers, one client each: {sticky[str(n)]['articles_per_min']} articles/min"
            )
        for srv in servers:
            srv.stop()
    return {
        "strategy": DEFAULT_STRATEGY,
        "work": [{"id": i, "chars": len(t)} for i, t in work],
        "one_server": single,
        "n_servers": multi,
        "n_servers_affinity": sticky if not args.no_affinity else None,
    }


RUNNERS = {
    "main": section_main,
    "cache": section_cache,
    "grounding": section_grounding,
    "prefix": section_prefix,
    "strategies": section_strategies,
    "peer": section_peer,
    "concurrency": section_concurrency,
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--quick",
        action="store_true",
        help="the 2 shortest articles, 2 prefix requests, no per-kind strategy, no "
        "affinity run (~35 min on a quiet 2-core machine)",
    )
    p.add_argument("--articles", type=int, help="seed articles to use (default: all 5)")
    p.add_argument("--seeds", type=Path, help="folder of *.txt articles (default: seeds/)")
    p.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    p.add_argument("--no-kinds", action="store_true", help="skip the one-call-per-kind strategy")
    p.add_argument(
        "--with-sentences",
        action="store_true",
        help="also measure the one-question-per-sentence strategy (~220 s per article)",
    )
    p.add_argument(
        "--kinds", action="store_true", help="run the per-kind strategy even with --quick"
    )
    p.add_argument("--prefix-requests", type=int, help="requests in the prefix-reuse sample (4)")
    p.add_argument("--concurrency", default="1,2,4", help="N values (default 1,2,4)")
    p.add_argument(
        "--no-affinity",
        action="store_true",
        help="skip the N-servers run with one client per server",
    )
    p.add_argument("--concurrency-work", type=int, default=4, help="short articles per N (4)")
    p.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="seconds to wait for a quiet machine before each timed part (120)",
    )
    p.add_argument(
        "--foreign-limit",
        type=float,
        default=0.15,
        help="share of CPU used by others above which an article is re-measured",
    )
    p.add_argument("--retries", type=int, default=1, help="re-measurements per article (1)")
    p.add_argument("--timeit-runs", type=int, default=30, help="timeit repeats (30)")
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the sections of bench/results.json that this run does not redo",
    )
    p.add_argument("--report-only", action="store_true", help="re-render from results.json")
    p.add_argument("--no-write", action="store_true", help="print results, write no files")
    args = p.parse_args(argv)
    if args.quick:
        args.articles = args.articles or 2
        args.prefix_requests = args.prefix_requests or 2
        args.no_kinds = not args.kinds
        args.no_affinity = True
    args.prefix_requests = args.prefix_requests or 4
    args.concurrency = [int(x) for x in str(args.concurrency).split(",") if x.strip()]
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    from bench import report

    args = parse(argv)
    if args.report_only:
        results = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
        report.write(results, RESULTS_MD, DOCS_MD)
        return 0
    from summarizer.prompts import prompt_version

    arts = seed_articles(None, args.seeds)
    if args.quick:  # the shortest articles, in name order
        keep = {i for i, t in sorted(arts, key=lambda a: len(a[1]))[: args.articles]}
        arts = [a for a in arts if a[0] in keep]
    elif args.articles:
        arts = arts[: args.articles]
    cmd = " ".join(shlex.quote(a) for a in ["python", "bench/run.py", *sys.argv[1:]])
    results: dict[str, Any] = {
        "machine": machine.describe(),
        "command": cmd,
        "prompt_version": prompt_version(),
        "git": machine.git_state(REPO),
        "articles": [{"id": i, "chars": len(t)} for i, t in arts],
        "settings": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k not in ("report_only", "no_write")
        },
    }
    if args.merge and RESULTS_JSON.exists():
        old = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
        kept = {k: v for k, v in old.items() if k in SECTIONS and k not in args.sections}
        results.update(kept)
        results["merged_from"] = {k: old.get("machine", {}).get("date") for k in kept}
        results["merged_command"] = old.get("merged_command") or old.get("command")
        results["section_seconds"] = {
            k: v for k, v in old.get("section_seconds", {}).items() if k in kept
        }
    results["default_strategy"] = DEFAULT_STRATEGY
    state: dict[str, Any] = {"results": results}
    log(f"{results['machine']['cores']} cores, {results['machine']['cpu']}; "
        f"{len(arts)} articles; sections {args.sections}")  # fmt: skip
    b = Bench(log=log)
    try:
        b.start()
        from bench.tokens import Tokenizer

        b.tokenizer = Tokenizer(b.model_file)  # type: ignore[attr-defined]
        results["model"] = {
            "name": b.base_config.model_name,
            "file": b.model_file.name,
            "bytes": b.model_file.stat().st_size,
            "n_ctx": b.base_config.n_ctx,
            "threads": b.base_config.threads or machine.cores(),
            "server_start_s": round(b.start_seconds, 1),
            "server_command": " ".join(b.server.command()[1:]),
        }
        log("warm-up request (loads the weights into memory, caches the instructions)")
        b.prime()
        for name in SECTIONS:
            if name not in args.sections:
                continue
            log(f"== {name}")
            started = time.perf_counter()
            try:
                results[name] = RUNNERS[name](b, arts, args, state)
            except Exception as exc:  # one failed section must not lose the others
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            results.setdefault("section_seconds", {})[name] = round(
                time.perf_counter() - started, 1
            )
            if not args.no_write:
                RESULTS_JSON.write_text(json.dumps(results, indent=1, default=str) + "\n")
    finally:
        b.close()
    results["total_seconds"] = round(time.perf_counter() - _T0, 1)
    if results.get("merged_from"):
        results["total_seconds"] = round(sum(results["section_seconds"].values()), 1)
    if args.no_write:
        print(json.dumps(results, indent=1, default=str))
        return 0
    RESULTS_JSON.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    report.write(results, RESULTS_MD, DOCS_MD)
    log(f"wrote {RESULTS_MD.relative_to(REPO)}, {DOCS_MD.relative_to(REPO)} in "
        f"{results['total_seconds'] / 60:.1f} min")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
