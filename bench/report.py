"""bench/results.json -> bench/RESULTS.md and docs/bench.md (tables and data-driven notes)."""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

from bench.goals import before_and_now, good, measured_with, speed_goals, verdict

GOALS = {
    "ratio": 1.10,
    "beyond": 1200,
    "cache_ms": 5.0,
    "ground_ms": 5.0,
}
# What each strategy the bench may compare does (section 5).
STRATEGY_TEXT = {
    "windows": "an overview, then one request per window of a few sentences listing that "
    "window's items (the whole article shown each time), then a one-word yes/no check of "
    "each candidate item.",
    "windows-unchecked": "`windows` without the yes/no checks (bench-only, "
    "`bench/strategies.py`): what the checks cost and what they add.",
    "article": "one request for everything (with the worked example).",
    "sentences": "an overview, then for each sentence with a cue word a one-word "
    "classification and, when it reports something, an items request.",
    "kinds": "(bench-only plan in `bench/strategies.py`) an overview, then one request each "
    "for all meetings, all agreements, all disputes.",
}
PARTS = [
    ("system", "system instructions (system.txt)"),
    ("example", "worked example (example.txt, article strategy only)"),
    ("template", "chat template (role markers)"),
    ("wrapper", "article wrapper (<article> tags, Title/Published lines)"),
    ("numbering", "sentence numbering ([n] and line breaks)"),
    ("task_tail", "task question after the article"),
]


def _f(x: Any, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows]
    return [*out, ""]


def _why(section: Any) -> str:
    if section is None:
        return "_Not run (section not selected)._"
    if isinstance(section, dict) and "error" in section:
        return f"_Failed: {section['error']}_"
    if isinstance(section, dict) and "skipped" in section:
        return f"_Skipped: {section['skipped']}_"
    return ""


def _requests(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for r in rows for d in r.get("detail") or []]


def _by_task(details: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    tasks: dict[str, list[dict[str, Any]]] = {}
    for d in details:
        tasks.setdefault(d["task"], []).append(d)
    return tasks


def headline(r: dict[str, Any]) -> dict[str, Any]:
    """The figures docs/bench.md and the top of RESULTS.md quote."""
    h: dict[str, Any] = {}
    main = r.get("main")
    if good(main):
        rows = main["rows"]
        n = len(rows)
        h["default"] = measured_with(main)
        h["seconds"] = main["wall_s_per_article"]
        h["ratio"] = main["ratio"]
        h["in_run_ratio"] = main["in_run_ratio"]
        h["requests"] = sum(x["requests"] for x in rows) / n
        h["prompt"] = sum(x["prompt_tokens"] for x in rows) / n
        h["fresh"] = sum(x["fresh_tokens"] for x in rows) / n
        h["completion"] = sum(x["completion_tokens"] for x in rows) / n
        h["text"] = sum(x["text_tokens"] for x in rows) / n
        h["beyond"] = h["prompt"] - h["text"]
        h["fresh_beyond"] = h["fresh"] - h["text"]
    if good(r.get("cache")):
        h["cache_ms"] = r["cache"]["max_median_ms"]
        if "answers_only_max_median_ms" in r["cache"]:
            h["answers_ms"] = r["cache"]["answers_only_max_median_ms"]
    if good(r.get("grounding")):
        h["ground_ms"] = r["grounding"]["cold"]["median_ms"]
    if good(r.get("prefix")):
        p = r["prefix"]
        h["prefix"] = (p["with_s"], p["without_s"], len(p["requests"]))
    st = r.get("strategies")
    if good(st):
        h["st_default"] = measured_with(st, "default")
        h["f1"] = {k: v["score"]["f1"] for k, v in st.items() if isinstance(v, dict)}
        if "article" in st:
            a = st["article"]
            h["article_beyond"] = a["prompt_tokens_per_article"] - a["text_tokens_per_article"]
    if good(r.get("peer")):
        h["peer"] = r["peer"]
    if good(r.get("concurrency")):
        c = r["concurrency"]
        h["concurrency"] = {
            "one_server": {k: v["articles_per_min"] for k, v in c["one_server"].items()},
            "n_servers": {k: v["articles_per_min"] for k, v in c["n_servers"].items()},
            "affinity": {
                k: v["articles_per_min"] for k, v in (c.get("n_servers_affinity") or {}).items()
            },
        }
    return h


def _header(r: dict[str, Any]) -> list[str]:
    m, model = r["machine"], r.get("model", {})
    arts = ", ".join(f"`{a['id']}` ({a['chars']:,} chars)" for a in r["articles"])
    return [
        "# Benchmarks",
        "",
        "Generated by `python bench/run.py` (do not edit by hand; re-run it). Raw figures: "
        "[results.json](results.json).",
        "",
        f"- **Date**: {m['date']}; whole run {r.get('total_seconds', 0) / 60:.1f} min",
        f"- **Machine**: {m['cores']} cores, {m['cpu']} ({', '.join(m['cpu_flags'])}), "
        f"{m['memory_gib']} GiB RAM, {m['os']}, Python {m['python']}",
        f"- **Model**: {model.get('name')} (`{model.get('file')}`, "
        f"{model.get('bytes', 0) / 1e9:.2f} GB), llama-cpp-python {m['llama_cpp_python']} "
        f"server on 127.0.0.1, n_ctx {model.get('n_ctx')}, {model.get('threads')} threads, "
        "temperature 0",
        f"- **Code**: commit {r.get('git', 'not recorded')}; **prompt version**: "
        f"`{r['prompt_version']}`; instructor {m['instructor']}, "
        f"openai {m['openai']}, langextract {m['langextract']}",
        f"- **Command**: `{r['command']}`"
        + (
            f"; sections {', '.join(r['merged_from'])} kept from the earlier run "
            f"(`{r.get('merged_command')}`, {next(iter(r['merged_from'].values()))})"
            if r.get("merged_from")
            else ""
        ),
        f"- **Articles**: {arts}",
        "- **Load**: other processes share this machine. Before each timed part the run waits "
        f"(at most {r['settings']['max_wait']:.0f} s) for the 1-minute load average to fall "
        "below 1.0 or for other processes to use under 10% of the CPUs; the load at the start "
        "of each part and the share of CPU other processes used during it are in the tables. "
        f"An article disturbed by more than {r['settings']['foreign_limit']:.0%} is measured "
        f"again (at most {r['settings']['retries']} time(s)).",
        "",
    ]


def _summary_table(h: dict[str, Any], r: dict[str, Any]) -> list[str]:
    rows: list[list[Any]] = []

    def add(measure: str, result: str, goal: str | None = None, value: Any = None) -> None:
        """One row; with a goal, `value` is checked against GOALS[goal]."""
        limits = {"ratio": "<= 1.10", "beyond": "<= 1,200", "cache_ms": "<= 5 ms",
                  "ground_ms": "<= 5 ms"}  # fmt: skip
        if goal is None:
            rows.append([measure, result, "-", "-"])
        else:
            rows.append([measure, result, limits[goal], verdict(value, GOALS[goal])])

    for g in speed_goals(r):  # seconds per article, and against `article` in the same run
        if g.result != "-":
            rows.append([g.measure, g.result, g.goal, g.verdict])
    if "seconds" in h:
        add("requests / prompt / completion tokens per article",
            f"{h['requests']:.1f} / {h['prompt']:,.0f} / {h['completion']:,.0f}")  # fmt: skip
        add("overhead ratio: summarizer wall / bare replay of the same requests",
            f"{h['ratio']:.3f}", "ratio", h["ratio"])  # fmt: skip
        add("  same, against the model's own time inside the run (proxy-timed)",
            f"{h['in_run_ratio']:.3f}", "ratio", h["in_run_ratio"])  # fmt: skip
        add("prompt tokens beyond the article text, per article (sum of all prompts)",
            f"{h['beyond']:,.0f}", "beyond", h["beyond"])  # fmt: skip
        add("  of which the model evaluated (not served from the KV cache)",
            f"{h['fresh_beyond']:,.0f}", "beyond", h["fresh_beyond"])  # fmt: skip
    if "article_beyond" in h:
        add("  same for the one-call `article` strategy",
            f"{h['article_beyond']:,.0f}", "beyond", h["article_beyond"])  # fmt: skip
    if "cache_ms" in h:
        add("cache-hit time per article (slowest article's median)",
            f"{h['cache_ms']:.2f} ms", "cache_ms", h["cache_ms"])  # fmt: skip
    if "answers_ms" in h:
        add("  first run after a code change (result rebuilt from cached answers)",
            f"{h['answers_ms']:.1f} ms")  # fmt: skip
    if "ground_ms" in h:
        add("grounding a 20,000-character article (12 quotes, median)",
            f"{h['ground_ms']:.2f} ms", "ground_ms", h["ground_ms"])  # fmt: skip
    if "prefix" in h:
        w, wo, k = h["prefix"]
        add(f"prefix reuse: first {k} requests of an article, with / without",
            f"{w:.1f} s / {wo:.1f} s ({wo / w:.1f}x)")  # fmt: skip
    if "f1" in h:
        add("item F1: " + " / ".join(h["f1"]), " / ".join(f"{v:.2f}" for v in h["f1"].values()))
    if "peer" in h:
        p = h["peer"]
        ours = h.get("seconds")
        mine = h.get("f1", {}).get(h.get("st_default", ""), float("nan"))
        add("langextract: seconds per article / item F1",
            f"{p['wall_s_per_article']:.1f} s / {p['score']['f1']:.2f}"
            + (f" (summarizer {ours:.1f} s / {mine:.2f})" if ours else ""))  # fmt: skip
    if "concurrency" in h:
        c = h["concurrency"]
        add("articles/min (short leads), N = " + ", ".join(c["one_server"])
            + ": one server / N servers",
            " / ".join(_f(v) for v in c["one_server"].values()) + " ; "
            + " / ".join(_f(v) for v in c["n_servers"].values()))  # fmt: skip
    return ["## Headline", "", *_table(["measure", "result", "goal", ""], rows)]


def _main_section(r: dict[str, Any]) -> list[str]:
    main = r.get("main")
    name = measured_with(main) if good(main) else measured_with(r, "default_strategy")
    out = [f"## 1. Speed and overhead (default strategy: `{name}`)", ""]
    if not good(main):
        return [*out, _why(main), ""]
    out += [
        "Each article runs through `Summarizer.summarize` with the response cache bypassed "
        "(a temporary cache, policy `refresh`: nothing read, answers written), its requests "
        "going through a recording proxy on 127.0.0.1 to the llama.cpp server. The recorded "
        "request bodies (exactly what instructor sent, grammar schema included) are then sent "
        "again straight to the server with the plain `openai` client: no instructor, "
        "validation, grounding or cache. Before each of the two, a priming request leaves only "
        "the system instructions in the KV cache, as between two articles of a batch, so both "
        "start from the same cache state. **ratio** = summarizer wall time / bare replay wall "
        "time; **in-run** = summarizer wall time / the time the same requests spent at the "
        "server during the summarizer run (measured by the proxy, so immune to load changes "
        "between the two runs).",
        "",
    ]
    rows = []
    for x in main["rows"]:
        rows.append([
            f"`{x['id'][:3]}`", x["chars"], x["requests"], x["reasks"], x["prompt_tokens"],
            x["fresh_tokens"], x["completion_tokens"], x["wall_s"], x["replay_s"],
            x["ratio"], x["in_run_ratio"],
            f"{x['identical_outputs']}/{x['requests']}",
            x["load_start"], "/".join(f"{v:.0%}" for v in x["foreign_cpu"]), x["attempts"],
        ])  # fmt: skip
    n = len(main["rows"])
    tot = lambda k: sum(x[k] for x in main["rows"])  # noqa: E731
    rows.append([
        "**mean**", round(tot("chars") / n), round(tot("requests") / n, 1),
        round(tot("reasks") / n, 1), round(tot("prompt_tokens") / n),
        round(tot("fresh_tokens") / n),
        round(tot("completion_tokens") / n), main["wall_s_per_article"],
        round(tot("replay_s") / n, 2), main["ratio"], main["in_run_ratio"], "", "", "", "",
    ])  # fmt: skip
    out += _table(
        ["article", "chars", "requests", "re-asks", "prompt tok", "evaluated tok", "completion tok",
         "summarizer s", "bare s", "ratio", "in-run", "same output", "load", "others CPU",
         "tries"], rows)  # fmt: skip
    out += [
        f"Totals: ratio {main['ratio']:.3f} (summarizer {main['overhead_s_per_article']:+.2f} s "
        f"per article against the bare replay); in-run {main['in_run_ratio']:.3f} "
        f"({main['client_s_per_article']:.2f} s per article spent outside the server: "
        'instructor, validation, resolution, grounding, cache writes, HTTP). "same output" '
        "counts replayed answers identical to the recorded ones (greedy decoding; a difference "
        "changes the bare time too).",
        "",
    ]
    details = _requests(main["rows"])
    tasks = _by_task(details)
    trows = []
    for task, ds in tasks.items():
        trows.append([
            task, len(ds), round(mean(d["prompt_tokens"] for d in ds)),
            round(mean(d["fresh"] or 0 for d in ds)),
            round(mean(d["completion_tokens"] for d in ds), 1),
            round(mean(d["seconds"] for d in ds), 2),
            round(sum(d["seconds"] for d in ds), 1),
        ])  # fmt: skip
    out += ["Per request type (all articles):", ""]
    out += _table(
        [
            "request",
            "count",
            "prompt tok (mean)",
            "evaluated tok (mean)",
            "completion tok (mean)",
            "seconds (mean)",
            "seconds (total)",
        ],
        trows,
    )
    return out


def _goals_section(r: dict[str, Any]) -> list[str]:
    """Issue 16's speed goals for the default, judged from this run, and the previous default."""
    rows = [[g.measure, g.result, g.goal, g.verdict] for g in speed_goals(r)]
    return [
        "### Goals for the default strategy",
        "",
        "Judged from this run's figures: seconds from the runs above (section 5 when it ran), "
        "the `article` strategy (one request per article, about the finished answer's tokens) "
        "from section 5 of the same run. *not measured* means a section was not run.",
        "",
        *_table(["measure", "result", "goal", ""], rows),
        before_and_now(r),
        "",
    ]


def _tokens_section(r: dict[str, Any]) -> list[str]:
    main = r.get("main")
    out = ["## 2. Prompt tokens beyond the article text", ""]
    if not good(main):
        return [*out, _why(main), ""]
    rows_main = main["rows"]
    out += [
        "Counted with the model's own tokenizer (vocab-only load) over the parts of each "
        "recorded request; *prompt tok* is the server's count. Parts do not add up exactly "
        "(tokens merge across boundaries); the chat template's share is what the server's count "
        "leaves over. The JSON schema costs **no prompt tokens**: it travels beside the messages "
        "(`response_format.schema`) and llama.cpp turns it into a sampling grammar; its size in "
        "characters is shown for scale. *evaluated* = prompt tokens the model actually computed "
        "(from the server log's per-request `prefix-match hit, remaining N prompt tokens to "
        "eval` and llama_perf lines); the rest was served from the KV cache.",
        "",
    ]
    st = r.get("strategies") or {}
    default = measured_with(main)
    columns = [(default, rows_main)]
    if good(st):
        columns += [
            (name, v["rows"])
            for name, v in st.items()
            if name != default and isinstance(v, dict) and v.get("rows")
        ]
    head = ["per article (mean)"] + [f"`{c}`" for c, _ in columns]
    body: list[list[Any]] = []

    def avg(rows: list[dict[str, Any]], key: str, part: bool = False) -> float:
        return sum((x["by_part"].get(key, 0) if part else x[key]) for x in rows) / len(rows)

    body.append(["requests"] + [round(avg(rs, "requests"), 1) for _, rs in columns])
    body.append(["article text (raw)"] + [round(avg(rs, "text_tokens")) for _, rs in columns])
    for key, label in PARTS:
        body.append([label] + [round(avg(rs, key, True)) for _, rs in columns])
    body.append(
        ["article sentences as sent, summed over requests"]
        + [round(avg(rs, "sentences", True)) for _, rs in columns]
    )
    body.append(
        ["  of which sentences quoted in task questions"]
        + [round(avg(rs, "quoted", True)) for _, rs in columns]
    )
    body.append(
        ["**prompt tokens, all requests**"] + [round(avg(rs, "prompt_tokens")) for _, rs in columns]
    )
    body.append(
        ["**beyond the article text** (prompt - article)"]
        + [round(avg(rs, "prompt_tokens") - avg(rs, "text_tokens")) for _, rs in columns]
    )
    body.append(
        ["evaluated by the model (rest from KV cache)"]
        + [round(avg(rs, "fresh_tokens")) for _, rs in columns]
    )
    body.append(
        ["**evaluated beyond the article text**"]
        + [round(avg(rs, "fresh_tokens") - avg(rs, "text_tokens")) for _, rs in columns]
    )
    body.append(["completion tokens"] + [round(avg(rs, "completion_tokens")) for _, rs in columns])
    body.append(
        ["JSON schema sent (characters, not tokens)"]
        + [round(avg(rs, "schema_chars", True)) for _, rs in columns]
    )
    out += _table(head, body)
    details = _requests(rows_main)
    tasks = _by_task(details)
    prow = []
    for task, ds in tasks.items():
        prow.append(
            [task]
            + [
                round(mean(d[k] for d in ds))
                for k in (
                    "prompt_tokens",
                    "system",
                    "template",
                    "wrapper",
                    "numbering",
                    "sentences",
                    "task_tail",
                    "quoted",
                )
            ]
            + [round(mean(d["fresh"] or 0 for d in ds)), round(mean(d["cached"] or 0 for d in ds))]
        )
    out += [f"One request of each kind (`{default}` strategy, mean):", ""]
    out += _table(
        [
            "request",
            "prompt",
            "system",
            "template",
            "wrapper",
            "numbering",
            "sentences",
            "task tail",
            "quoted",
            "evaluated",
            "from KV cache",
        ],
        prow,
    )
    return out


def _micro_section(r: dict[str, Any]) -> list[str]:
    out = ["## 3. Cache hits and grounding", ""]
    c = r.get("cache")
    if good(c):
        out += [
            "An article seen before, `Summarizer.summarize` answered without the model, two "
            "ways: *result* is the common case, the finished result read back from the cache "
            "(one key over the article, settings, prompt version and code version); *answers "
            "only* is the first run after the code changed, every model answer from the "
            "request cache but the result rebuilt (sentence splitting, one key per request, "
            "validation, resolution, grounding). `timeit`, "
            f"{c['runs']} runs per article after one first call.",
            "",
        ]
        answers = c.get("answers_only", {})
        rows = [
            [f"`{k[:3]}`", v["median_ms"], v["p90_ms"],
             answers.get(k, {}).get("median_ms"), answers.get(k, {}).get("p90_ms")]
            for k, v in c["per_article"].items()
        ]  # fmt: skip
        out += _table(
            ["article", "result median ms", "p90 ms", "answers only median ms", "p90 ms"], rows
        )
        bd = c.get("breakdown")
        if bd:
            out += [
                f"Where the *answers only* time goes (steps timed alone on `{bd['article'][:3]}`, "
                f"medians): splitting the article into sentences (pysbd) "
                f"{bd['split_sentences_ms']:.2f} ms once per article; per request, the cache "
                f"key {bd['request_key_ms']:.2f} ms (of which `prompt_version()` "
                f"{bd['prompt_version_ms']:.2f} ms, memoised), the SQLite read "
                f"{bd['cache_get_ms']:.2f} ms, building the messages "
                f"{bd['build_messages_ms']:.2f} ms; a JSON schema built from scratch costs "
                f"{bd['json_schema_ms']:.2f} ms (built once per model now). Resolving one date "
                f"with dateparser costs {bd['date_resolve_ms']:.2f} ms.",
                "",
            ]
    else:
        out += [_why(c), ""]
    g = r.get("grounding")
    if good(g):
        out += [
            f"Grounding: `summarizer.grounding.ground` on a {g['chars']:,}-character article (the "
            f"seeds joined) with {g['quotes']} evidence quotes: 4 verbatim, 4 retyped (curly "
            "quotes, dashes, doubled spaces, lower case), 2 slipped (two words swapped, a "
            "letter dropped: the fuzzy path) and 2 absent (a full fuzzy scan that finds "
            f"nothing). Found: {sum(g['grounded'])}/{g['quotes']}. *cold* clears the per-text "
            "cache of the folded article before each run (the first item of an article); "
            f"*warm* does not. `timeit`, {g['runs']} runs.",
            "",
        ]
        rows = [
            ["all 12, cold", g["cold"]["median_ms"], g["cold"]["p90_ms"]],
            ["all 12, warm", g["warm"]["median_ms"], g["warm"]["p90_ms"]],
        ]
        rows += [
            [f"{k} only, warm", v["median_ms"], v["p90_ms"]] for k, v in g["per_kind_warm"].items()
        ]
        out += _table(["quotes", "median ms", "p90 ms"], rows)
    else:
        out += [_why(g), ""]
    return out


def _prefix_section(r: dict[str, Any]) -> list[str]:
    p = r.get("prefix")
    out = ["## 4. Prompt-prefix reuse (KV cache)", ""]
    if not good(p):
        return [*out, _why(p), ""]
    out += [
        "The instructions go first and the article last, so llama.cpp keeps the instructions' "
        "KV cache from one article to the next, and every follow-up question about an article "
        f"reuses the instructions *and* the article. Measured on the first {len(p['requests'])} "
        f"recorded requests of `{p['article']}`, replayed bare: *with* reuse (primed like a "
        "batch between articles, requests in order), and *without* (a one-token request with "
        "another prompt before each, so nothing but the chat template's first tokens can be "
        f"reused). Load at start {p['load_start']:.2f}.",
        "",
    ]
    rows = [
        [i + 1, x["task"], x["with_fresh"], x["with_s"], x["without_fresh"], x["without_s"]]
        for i, x in enumerate(p["requests"])
    ]
    rows.append(["**sum**", "", "", p["with_s"], "", p["without_s"]])
    out += _table(
        [
            "#",
            "request",
            "evaluated tok (with)",
            "s (with)",
            "evaluated tok (without)",
            "s (without)",
        ],
        rows,
    )
    out += [
        f"Identical answers both ways: {p['same_outputs']}/{len(p['requests'])}. Request 1 shows "
        "the reuse *across* articles (the instructions), the later ones the reuse *within* an "
        "article. Without reuse, prompt evaluation ran at "
        f"{p['prompt_ms_per_token']:.1f} ms per token; at that rate, a whole article whose cached "
        "tokens all had to be evaluated again would take (estimate, bare model):",
        "",
    ]
    rows = [
        [
            f"`{e['id'][:3]}`",
            e["cached_tokens"],
            e["with_s"],
            e["without_est_s"],
            f"{e['without_est_s'] / e['with_s']:.1f}x",
        ]
        for e in p["estimates"]
    ]
    out += _table(
        [
            "article",
            "tokens served from cache",
            "s with reuse (measured)",
            "s without (estimated)",
            "factor",
        ],
        rows,
    )
    return out


def _strategies_section(r: dict[str, Any]) -> list[str]:
    st = r.get("strategies")
    out = ["## 5. Strategies: the default against one call and its variants", ""]
    if not good(st):
        return [*out, _why(st), ""]
    default = measured_with(st, "default")
    described = [
        f"`{name}`{' (default)' if name == default else ''}: "
        + STRATEGY_TEXT.get(name, "a registered strategy.")
        for name, v in st.items()
        if isinstance(v, dict)
    ]
    out += [
        " ".join(described) + " Item F1 is the eval scorer's micro-average over the three kinds "
        "(`summarizer.eval.scorer.score` against `eval/gold`); times are wall seconds per "
        "article with the cache bypassed, all measured in the same run.",
        "",
    ]
    rows = []
    for name, v in st.items():
        if not isinstance(v, dict):
            continue
        s = v["score"]
        k = s["kinds"]
        rows.append(
            [
                f"`{name}`",
                v["wall_s_per_article"],
                v["requests_per_article"],
                v["prompt_tokens_per_article"],
                v["fresh_tokens_per_article"],
                v["completion_tokens_per_article"],
                f"**{s['f1']:.3f}**",
                f"{s['precision']:.2f} / {s['recall']:.2f}",
                f"{k['meeting']['f1']:.2f}",
                f"{k['agreement']['f1']:.2f}",
                f"{k['dispute']['f1']:.2f}",
                f"{s['tp']}/{s['fp']}/{s['fn']}",
            ]
        )
    out += _table(
        [
            "strategy",
            "s / article",
            "requests",
            "prompt tok",
            "evaluated tok",
            "completion tok",
            "item F1",
            "P / R",
            "meetings F1",
            "agreements F1",
            "disputes F1",
            "TP/FP/FN",
        ],
        rows,
    )
    if isinstance(st.get(default), dict) and st[default]["score"].get("f1_ci"):
        ci = {k: v["score"].get("f1_ci") for k, v in st.items() if isinstance(v, dict)}
        out += [
            "Bootstrap 95% intervals of F1 over articles: "
            + "; ".join(f"`{k}` {c[0]:.2f}-{c[1]:.2f}" for k, c in ci.items() if c)
            + f". With {len(st[default]['score']['per_article_f1'])} articles these "
            "overlap widely: small differences are noise.",
            "",
        ]
    return out


def _peer_section(r: dict[str, Any]) -> list[str]:
    p = r.get("peer")
    out = ["## 6. The peer: langextract on the same model", ""]
    if not good(p):
        return [*out, _why(p), ""]
    out += [
        f"google's `langextract` {p['version']} (PyPI), through the same recording proxy to the "
        "same llama.cpp server: OpenAI provider chosen explicitly (its router sends model ids "
        "starting with `qwen` to Ollama), schema constraints off (llama-cpp-python's server "
        "rejects the `json_schema` response format they need; langextract then asks for "
        "`json_object`, which the server enforces as generic JSON), no fences, temperature 0, "
        "`max_output_tokens` 800; otherwise its defaults (1,000-character chunks, one pass, "
        "10 workers, which the one-slot server serialises). Prompt and one worked example: "
        "`bench/peer.py`. Its extractions (class, exact text span, attributes) are mapped to "
        "our compact items and resolved by the same code as ours (`build_summary`: names, "
        "dates, evidence, merging), then scored by our scorer. A warm-up call put its "
        "instructions into the KV cache first, as the priming does for ours.",
        "",
    ]
    rows = [
        [
            f"`{x['id'][:3]}`",
            x["wall_s"],
            x["requests"],
            x["prompt_tokens"],
            x["fresh_tokens"],
            x["completion_tokens"],
            "/".join(str(x["extractions"][k]) for k in ("meeting", "agreement", "dispute")),
            x["extractions"]["unaligned"],
            x["items_after_mapping"],
            x["load_start"],
            f"{x['foreign_cpu']:.0%}",
        ]
        for x in p["rows"]
    ]
    out += _table(
        [
            "article",
            "s",
            "requests",
            "prompt tok",
            "evaluated tok",
            "completion tok",
            "extractions m/a/d",
            "unaligned",
            "items kept",
            "load",
            "others CPU",
        ],
        rows,
    )
    st = r.get("strategies") or {}
    comp = []
    if good(st):
        for name, v in st.items():
            if isinstance(v, dict):
                comp.append((f"summarizer `{name}`", v))
    comp.append(("langextract", p))
    rows = []
    for name, v in comp:
        s = v["score"]
        k = s["kinds"]
        rows.append(
            [
                name,
                v["wall_s_per_article"],
                v["requests_per_article"],
                v["prompt_tokens_per_article"],
                v["completion_tokens_per_article"],
                f"**{s['f1']:.3f}**",
                f"{s['precision']:.2f} / {s['recall']:.2f}",
                f"{k['meeting']['f1']:.2f}",
                f"{k['agreement']['f1']:.2f}",
                f"{k['dispute']['f1']:.2f}",
            ]
        )
    out += ["Side by side (same articles, same model, same scorer):", ""]
    out += _table(
        [
            "system",
            "s / article",
            "requests",
            "prompt tok",
            "completion tok",
            "item F1",
            "P / R",
            "meetings",
            "agreements",
            "disputes",
        ],
        rows,
    )
    return out


def _concurrency_section(r: dict[str, Any]) -> list[str]:
    c = r.get("concurrency")
    out = ["## 7. Concurrency against a loopback server", ""]
    if not good(c):
        return [*out, _why(c), ""]
    work = c["work"]
    out += [
        "llama-cpp-python's server (0.3.x) has **no parallel slots**: its settings have no "
        "`n_parallel`/`--parallel`, it holds one model with one KV cache and serialises "
        "requests behind a lock. So two set-ups, each working through the same "
        f"{len(work)} short article leads ({', '.join(str(w['chars']) for w in work)} "
        f"characters) with the default strategy (`{measured_with(c)}`) and `asummarize`: "
        "(a) one server with all threads, N articles in flight; (b) N servers on the same "
        "model file (weights shared through the page cache), the cores split between them "
        "(at least one thread each), N articles in flight through the library's endpoint "
        "pool; (c) the same N servers, one client (one article at a time) per server.",
        "",
    ]
    sticky = c.get("n_servers_affinity") or {}
    rows = []
    for n in c["one_server"]:
        a, b, d = c["one_server"][n], c["n_servers"].get(n, {}), sticky.get(n, {})
        rows.append(
            [
                n,
                a["articles_per_min"],
                a["wall_s"],
                a["load_start"],
                b.get("threads_each"),
                b.get("articles_per_min"),
                b.get("wall_s"),
                b.get("load_start"),
                d.get("articles_per_min"),
                d.get("wall_s"),
                d.get("load_start"),
            ]
        )
    out += _table(
        [
            "N",
            "(a) articles/min",
            "(a) wall s",
            "(a) load",
            "(b, c) threads each",
            "(b) articles/min",
            "(b) wall s",
            "(b) load",
            "(c) articles/min",
            "(c) wall s",
            "(c) load",
        ],
        rows,
    )
    out += [
        "(b) is the library's own multi-endpoint path: one `Summarizer` over an `EndpointPool` "
        "of the N servers, N articles in flight. The pool sends each request to the endpoint "
        "with the fewest requests in flight, so consecutive requests about one article land on "
        "different servers and each must evaluate the article again. (c) gives each server its "
        "own client (article affinity), which keeps every article's prefix on one server.",
        "",
    ]
    return out


def _discussion(r: dict[str, Any], h: dict[str, Any]) -> list[str]:
    out = ["## Discussion", ""]
    main = r.get("main")
    if good(main):
        disturbed = [
            x for x in main["rows"] if max(x["foreign_cpu"]) > r["settings"]["foreign_limit"]
        ]
        if disturbed:
            out.append(
                f"- **Load.** Other processes used more than "
                f"{r['settings']['foreign_limit']:.0%} of the CPUs during {len(disturbed)} of "
                f"{len(main['rows'])} articles of section 1 even after re-measuring (see the "
                "*others CPU* column). Wall times are inflated by that, and differently in the "
                "summarizer run and its replay, which is why the in-run ratio is the figure to "
                "trust for overhead. Re-run on a quiet machine for clean times."
            )
    if "ratio" in h:
        verdict = "meets" if h["ratio"] <= GOALS["ratio"] else "misses"
        in_verdict = "meets" if h["in_run_ratio"] <= GOALS["ratio"] else "misses"
        out.append(
            f"- **Overhead.** summarizer's wall time is {h['ratio']:.3f}x the bare replay's for "
            f"the same requests ({verdict} the 1.10 goal); against the time the same requests "
            f"spent at the server inside the same run it is {h['in_run_ratio']:.3f}x "
            f"({in_verdict} it). The model's generation dominates; what summarizer adds is "
            "instructor, validation, resolution, cache keys and HTTP (the *client s per "
            "article* above). The real cost of the default strategy is the *number* of "
            "requests it makes, which the ratio cannot show (it compares the same requests): "
            "see sections 2 and 5."
        )
    if "beyond" in h:
        out.append(
            f"- **Prompt tokens.** The default `{h['default']}` sends {h['prompt']:,.0f} prompt "
            f"tokens per article, {h['beyond']:,.0f} beyond the article text "
            f"({'meets' if h['beyond'] <= 1200 else 'misses'} the 1,200 goal): every one of its "
            f"~{h['requests']:.0f} requests repeats the system instructions and the whole article."
            f" Locally almost all of it is served from the KV cache: the model evaluates "
            f"{h['fresh']:,.0f} tokens per article, {h['fresh_beyond']:,.0f} beyond the article "
            f"text ({'meets' if h['fresh_beyond'] <= 1200 else 'misses'} the goal). Against a "
            "paid API that bills every prompt token (or caches only long exact prefixes), a "
            "strategy of many requests is expensive; the system instructions alone are the "
            "largest fixed part of every request."
        )
    if "article_beyond" in h:
        out.append(
            f"- The one-call `article` strategy needs {h['article_beyond']:,.0f} tokens beyond "
            f"the article ({'meets' if h['article_beyond'] <= 1200 else 'misses'} the goal), "
            "mostly the system instructions and the worked example."
        )
    if "cache_ms" in h:
        verdict = "meets" if h["cache_ms"] <= GOALS["cache_ms"] else "misses"
        line = (
            f"- **Cache hits** take {h['cache_ms']:.2f} ms per article at most ({verdict} the "
            "5 ms goal): the finished result is kept under one key per article."
        )
        if "answers_ms" in h:
            line += (
                f" After a code change the first run rebuilds each result from the cached "
                f"answers in up to {h['answers_ms']:.0f} ms per article (sentence splitting, "
                "a key per request, resolution), still without asking the model."
            )
        out.append(line)
    if "ground_ms" in h:
        verdict = "meets" if h["ground_ms"] <= GOALS["ground_ms"] else "misses"
        out.append(
            f"- **Grounding** 12 quotes in 20,000 characters takes {h['ground_ms']:.2f} ms from "
            f"cold ({verdict} the 5 ms goal); the fuzzy fallback is the expensive path."
        )
    if "prefix" in h:
        w, wo, k = h["prefix"]
        out.append(
            f"- **Prefix reuse** is what makes the default strategy affordable at all: the first "
            f"{k} requests took {w:.1f} s with the KV cache reused and {wo:.1f} s without "
            f"({wo / w:.1f}x). Interleaving requests of different articles on one server "
            "(section 7a) throws that away."
        )
    if "f1" in h:
        best = max(h["f1"], key=lambda k: h["f1"][k])
        default = h["st_default"]
        out.append(
            "- **Strategies.** Item F1 "
            + ", ".join(f"`{k}` {v:.2f}" for k, v in h["f1"].items())
            + f": `{best}` scores best on these articles. "
            + (
                f"The default (`{default}`) is the best by F1, at the cost of more requests. "
                if best == default
                else f"On this data the default `{default}` is not the best: `{best}` is "
                "(see section 5 for time and tokens); with five articles the intervals overlap, "
                "so this is a signal to re-check on more gold, not yet proof. "
            )
        )
    if "peer" in h and "seconds" in h:
        p = h["peer"]
        ours_f1 = h.get("f1", {}).get(h.get("st_default", ""))
        faster = "faster" if p["wall_s_per_article"] < h["seconds"] else "slower"
        line = (
            f"- **langextract** took {p['wall_s_per_article']:.1f} s per article "
            f"({faster} than summarizer's {h['seconds']:.1f} s) and scored item F1 "
            f"{p['score']['f1']:.2f}"
        )
        if ours_f1 is not None:
            line += f" against summarizer's {ours_f1:.2f}"
        line += (
            ". Where it wins: it is a general tool (any classes, any attributes, from a "
            "prompt and one example), it aligns every extraction to exact character "
            "offsets in the source, and its chunking bounds each request. Where it loses "
            "here: it has no schema for our items, so parties, statuses and dates come "
            "back as free-text attributes, and with schema constraints off against this "
            "server its JSON is only generically constrained."
        )
        out.append(line)
    if "concurrency" in h:
        c = h["concurrency"]
        one, many, sticky = c["one_server"], c["n_servers"], c.get("affinity") or {}
        text = (
            "- **Concurrency.** One llama-cpp-python server serves one request at a time, so "
            "more clients cannot add throughput (articles/min "
            + ", ".join(f"N={k}: {v}" for k, v in one.items())
            + "); N servers splitting the cores, through the library's pool: "
            + ", ".join(f"N={k}: {v}" for k, v in many.items())
        )
        if sticky:
            text += "; with one client per server: " + ", ".join(
                f"N={k}: {v}" for k, v in sticky.items()
            )
        text += (
            ". On a 2-core CPU the model is compute-bound: the way to more articles per "
            "minute is fewer generated tokens and requests, not more parallelism. A server "
            "with real parallel slots (llama.cpp's own `llama-server --parallel N`, continuous "
            "batching) is the thing to measure on a bigger machine."
        )
        out.append(text)
    out.append("")
    return out


def render(r: dict[str, Any]) -> str:
    h = headline(r)
    lines = _header(r) + _summary_table(h, r)
    for part in (
        _main_section,
        _goals_section,
        _tokens_section,
        _micro_section,
        _prefix_section,
        _strategies_section,
        _peer_section,
        _concurrency_section,
    ):
        lines += part(r)
    lines += _discussion(r, h)
    return "\n".join(lines).rstrip() + "\n"


def render_docs(r: dict[str, Any]) -> str:
    h = headline(r)
    m = r["machine"]
    lines = [
        "## Benchmarks",
        "",
        f"On {m['cores']} CPU cores ({m['cpu']}), the embedded "
        f"{r.get('model', {}).get('name', 'model')}, {m['date'][:10]}, prompt version "
        f"`{r['prompt_version']}` ([full results](../bench/RESULTS.md); reproduce with "
        f"`.venv/bin/python bench/run.py`, {r.get('total_seconds', 0) / 60:.0f} minutes here, "
        "`--quick` for a shorter run):",
        "",
    ]
    if "seconds" in h:
        lines.append(
            f"- **{h['seconds']:.0f} s per article** with the default strategy `{h['default']}` "
            f"({h['requests']:.0f} requests, {h['completion']:,.0f} generated tokens); "
            f"overhead over the bare model for the same requests **{h['ratio']:.2f}x** "
            f"(goal 1.10)."
        )
        lines.append(
            f"- Prompt tokens beyond the article text: **{h['beyond']:,.0f}** per article summed "
            f"over all requests, **{h['fresh_beyond']:,.0f}** actually evaluated thanks to the "
            "KV cache (goal 1,200)."
        )
    goals = [g for g in speed_goals(r) if g.result != "-"]
    if goals:
        lines.append(
            "- Goals for the default: "
            + "; ".join(f"{g.measure} = {g.result} (goal {g.goal}: {g.verdict})" for g in goals)
            + "."
        )
    lines.append("- " + before_and_now(r))
    if "cache_ms" in h and "ground_ms" in h:
        lines.append(
            f"- Cache hit **{h['cache_ms']:.1f} ms** per article; grounding a 20,000-character "
            f"article **{h['ground_ms']:.1f} ms** (goals 5 ms)."
        )
    if "prefix" in h:
        w, wo, k = h["prefix"]
        lines.append(
            f"- KV-cache prefix reuse: {k} requests in {w:.0f} s with, {wo:.0f} s without."
        )
    if "f1" in h:
        lines.append(
            "- Item F1 by strategy: "
            + ", ".join(f"`{k}` {v:.2f}" for k, v in h["f1"].items())
            + "."
        )
    if "peer" in h:
        p = h["peer"]
        lines.append(
            f"- langextract on the same model and articles: {p['wall_s_per_article']:.0f} s "
            f"per article, item F1 {p['score']['f1']:.2f}."
        )
    if "concurrency" in h:
        c = h["concurrency"]
        lines.append(
            "- Articles per minute (short leads), N = 1, 2, 4: one server "
            + " / ".join(_f(v) for v in c["one_server"].values())
            + "; N servers "
            + " / ".join(_f(v) for v in c["n_servers"].values())
            + "."
        )
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], md: Path, docs: Path) -> None:
    md.write_text(render(results), encoding="utf-8")
    docs.write_text(render_docs(results), encoding="utf-8")
