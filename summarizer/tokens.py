"""Prompt tokens counted before anything is sent (`--dry-run`).

With the embedded model the GGUF file carries its own tokenizer and chat template: loading
only its vocabulary (no weights, no server) counts a request's prompt as the server will,
template included. A remote endpoint's tokenizer is not at hand, nor is the embedded
model's before its file is assembled; then the count is the pipeline's own estimate of
about 3.5 characters a token (`chunking.estimate_tokens`), and the counter says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from summarizer.chunking import estimate_tokens
from summarizer.config import Config
from summarizer.errors import ModelError
from summarizer.gguf import assembled_path

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class TokenCounter:
    """Counts one request's prompt tokens; `tokenizer` says how, for whoever reads the count."""

    count: Callable[[Messages], int]
    tokenizer: str
    exact: bool  # the model's own tokenizer, not an estimate


def estimated(reason: str) -> TokenCounter:
    """About 3.5 characters a token over the messages' text, and why no tokenizer was used."""
    return TokenCounter(
        lambda messages: sum(estimate_tokens(m["content"]) for m in messages),
        f"estimated at about 3.5 characters a token ({reason})",
        exact=False,
    )


def plain_text(messages: Messages) -> str:
    """The messages' text, for a model file without a chat template."""
    return "\n".join(m["content"] for m in messages)


def tokenizer_counter(
    tokenize: Callable[[bytes], list[int]], render: Callable[[Messages], str], name: str
) -> TokenCounter:
    """Counts the tokens of the prompt `render` makes of the messages, as `tokenize` splits it."""
    return TokenCounter(
        lambda messages: len(tokenize(render(messages).encode())),
        f"counted with the tokenizer of {name}",
        exact=True,
    )


def gguf_counter(path: Path) -> TokenCounter:
    """The model file's own tokenizer and chat template (its vocabulary only: a second or so)."""
    import llama_cpp
    from llama_cpp._utils import suppress_stdout_stderr
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    # verbose=False still lets a context warning through to the terminal; this is how
    # llama-cpp-python itself silences a load.
    with suppress_stdout_stderr(disable=False):
        vocab = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)

    def text(token: int) -> str:
        return "" if token == -1 else vocab.detokenize([token], special=True).decode()

    render = plain_text
    if template := vocab.metadata.get("tokenizer.chat_template"):
        formatter = Jinja2ChatFormatter(
            template=template, eos_token=text(vocab.token_eos()), bos_token=text(vocab.token_bos())
        )

        def render(messages: Messages) -> str:
            return formatter(messages=messages).prompt  # type: ignore[arg-type]

    return tokenizer_counter(
        lambda data: vocab.tokenize(data, add_bos=False, special=True), render, path.name
    )


def prompt_counter(config: Config) -> TokenCounter:
    """The embedded model's tokenizer when its file is at hand, else the estimate."""
    if not config.embedded:
        return estimated("the endpoint is remote: its tokenizer is not at hand")
    try:
        path = assembled_path(config.model_name, config.cache_dir)
    except ModelError as exc:
        return estimated(exc.reason)
    if path is None:
        return estimated("the model file is not assembled yet: a first real run assembles it")
    try:
        return gguf_counter(path)
    except (OSError, ValueError) as exc:  # llama.cpp reports an unreadable file as ValueError
        return estimated(f"cannot read the tokenizer of {path.name}: {exc}")
