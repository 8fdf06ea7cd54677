"""`summarizer run --dry-run`: what a run would send and what it may cost, sending nothing.

Each pending article's strategy is driven to the end by `Summarizer.expected_requests`
(its requests built as a run builds them, answers expected rather than asked), and every
request's prompt is counted with the model's own tokenizer where one is at hand
(`tokens.py`). The library reports; the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from summarizer import strategies
from summarizer.batch import cost_usd, pending
from summarizer.errors import InputError
from summarizer.inputs import InputProblem, Inputs
from summarizer.pipeline import Summarizer
from summarizer.tokens import TokenCounter, prompt_counter


@dataclass
class Estimate:
    """A dry run's count: what a real run would send, without sending it."""

    articles: int = 0
    skipped: int = 0
    kept: int = 0  # finished results in the cache: nothing to send
    requests: int = 0  # asked whatever the model answers: exact
    expected_requests: int = 0  # asked after an expected answer: estimated (see `assumes`)
    prompt_tokens: int = 0  # of every request, the expected ones included
    expected_prompt_tokens: int = 0  # the part in expected requests
    output_tokens: int = 0  # every request's answer budget (max_tokens) summed: an upper bound
    tokenizer: str = ""  # how prompt tokens were counted
    assumes: str = ""  # what the strategy expects the model to answer
    cost: float | None = None  # USD for the prompts and the whole output budget: an upper bound
    problems: list[InputProblem] = field(default_factory=list)


def estimate(
    inputs: Inputs, summarizer: Summarizer, out: Path, counter: TokenCounter | None = None
) -> Estimate:
    """Read every pending article and count the requests its strategy would make and their
    tokens (`counter`, by default the model's tokenizer where at hand); sends nothing."""
    config = summarizer.config
    counter = counter or prompt_counter(config)
    sources, problems, skipped = pending(inputs, out)
    result = Estimate(
        skipped=skipped,
        problems=problems,
        tokenizer=counter.tokenizer,
        assumes=strategies.expectation(config.strategy).assumes,
    )
    for source in sources:
        item = source.read()
        if isinstance(item, InputProblem):
            result.problems.append(item)
            continue
        about = {"id": item.id, "title": item.title, "published": item.published}
        if summarizer.is_kept(item.text, **about):
            result.kept += 1  # its result is in the cache: a run sends nothing for it
            continue
        try:  # built in full first: an article that fails adds nothing
            requests = list(summarizer.expected_requests(item.text, **about))
        except InputError as exc:
            result.problems.append(InputProblem(source.id, source.origin, exc.reason))
            continue
        result.articles += 1
        for request, expected in requests:
            tokens = counter.count(request.messages)
            result.prompt_tokens += tokens
            result.output_tokens += request.ask.max_tokens
            if expected:
                result.expected_requests += 1
                result.expected_prompt_tokens += tokens
            else:
                result.requests += 1
    result.cost = cost_usd(result.prompt_tokens, result.output_tokens, config.price_per_mtok)
    return result
