"""`summarizer eval`: score summaries against the gold files and guard a per-model baseline.

The main CLI registers it with `app.command("eval")(eval_command)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from summarizer.errors import SummarizerError
from summarizer.terminal import err, fail

from . import EvalError
from .baseline import TOLERANCE, baseline_path, check, load_baseline, save_baseline
from .gold import load_gold
from .joined import JOINED_ID, join_gold
from .predict import by_id, input_ids, load_predictions, summarize_inputs
from .report import render_report, write_report
from .scorer import score

EXIT_CHECK_FAILED = 1


def eval_command(
    gold: Annotated[
        Path, typer.Option(metavar="DIR", help="Directory of gold <id>.json files.")
    ] = Path("eval/gold"),
    inputs: Annotated[
        Path,
        typer.Option(
            metavar="DIR",
            help="Articles to summarise without --results, read as `summarizer run` reads "
            "them (.txt, .md, .html, .jsonl; id = file stem or record id).",
        ),
    ] = Path("seeds"),
    results: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Score this results JSONL (one summarizer Result per line) instead of running "
            "the summariser.",
        ),
    ] = None,
    report: Annotated[
        Path,
        typer.Option(
            "--out", "--report", "-o", metavar="FILE", help="Where to write the JSON report."
        ),
    ] = Path("eval/report.json"),
    check_baseline: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 if the headline or a kind's F1 is more than --tolerance below the "
            "baseline, or the prompt files changed since the baseline was recorded.",
        ),
    ] = False,
    save: Annotated[
        bool,
        typer.Option(
            "--save-baseline",
            help="Accept this report as the model's baseline, with the prompt version that "
            "produced it.",
        ),
    ] = False,
    baseline: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Baseline file (default: eval/baselines/<model-slug>.json)."
        ),
    ] = None,
    join: Annotated[
        bool,
        typer.Option(
            "--join",
            help="Join the articles into one long article (read in overlapping chunks, like "
            "any article longer than the model's context) and score it against their combined "
            "gold, to compare with the same articles scored apart.",
        ),
    ] = False,
    tolerance: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Largest F1 drop --check accepts.")
    ] = TOLERANCE,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to run, and whose baseline to use (default: the configured model, or "
            "the one named in --results).",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible endpoint to run against (default: the configured one, or "
            "the embedded model)."
        ),
    ] = None,
) -> None:
    """Score summaries against the gold files: per kind P/R/F1, fields, grounding, misses.

    Exit status: 0 ok, 1 --check failed, 2 usage error (bad option, file or setup).
    """
    out = Console()
    if check_baseline and save:
        fail("use --check or --save-baseline, not both")
    if join and save:
        fail("a baseline is recorded on the articles apart: drop --join")
    try:
        expected = load_gold(gold)
        if join:  # the gold of the articles joined, in the order they are joined
            ids = [i for i in input_ids(inputs) if i in expected]
            expected = {JOINED_ID: join_gold([expected[i] for i in ids])}
        if results is not None:
            runs = load_predictions(results)
        else:
            with Progress(console=err, transient=True) as progress:
                runs, failures = summarize_inputs(
                    inputs,
                    model=model,
                    base_url=base_url,
                    join=join,
                    track=lambda items: progress.track(items, description="summarising"),
                )
            for article, reason in failures.items():
                err.print(f"[yellow]{escape(article)} not summarised:[/] {escape(reason)}")
        scored = score(expected, by_id(runs))
        render_report(scored, out)
        write_report(scored, report)
        out.print(f"report written to {escape(str(report))}")
        if not (check_baseline or save):
            return
        model_name = model or _only({r.run.model for r in runs}, "models", "pass --model")
        path = baseline or baseline_path(model_name)
        if save:
            version = _only(
                {r.run.prompt_version for r in runs},
                "prompt versions",
                "re-run the eval so one prompt version made every result",
            )
            save_baseline(path, scored, model=model_name, prompt_version=version)
            out.print(f"baseline for {escape(model_name)} saved to {escape(str(path))}")
            return
        problems = check(scored, load_baseline(path), tolerance)
    except (EvalError, SummarizerError, OSError) as exc:
        fail(str(exc))
    for problem in problems:
        err.print(f"[red]check failed:[/] {escape(problem)}")
    if problems:
        raise typer.Exit(EXIT_CHECK_FAILED)
    out.print(f"[green]check passed[/] against {escape(str(path))}")


def _only(values: set[str], what: str, remedy: str) -> str:
    """The single value all results share: a baseline describes one model and one prompt."""
    if len(values) != 1:
        found = ", ".join(sorted(values)) or "none"
        raise EvalError(f"the results name {len(values)} {what} ({found}): {remedy}")
    return values.pop()
