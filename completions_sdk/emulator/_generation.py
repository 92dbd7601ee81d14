"""Deterministic "model": text from a hash of the prompt, the seed and the choice index.

Each generated token is ``" "`` plus a word from ``VOCABULARY`` (``_tokens`` says how a
prompt is read). The same prompt, seed and choice index always give the same text, in
every process (``hashlib``, not ``hash()``, which is salted per process).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._tokens import DEFAULT_MAX_TOKENS, VOCABULARY, prompt_texts, tokenize

__all__ = ["GeneratedChoice", "Generation", "Piece", "generate"]

_SCALE = 2**64


@dataclass(frozen=True)
class Piece:
    """One token of a choice's text, with its log probabilities (when asked for)."""

    text: str
    offset: int
    logprob: float | None = None
    top: dict[str, float] | None = None


@dataclass(frozen=True)
class GeneratedChoice:
    """One choice: its tokens (the echoed prompt's first) and why it ended."""

    index: int
    pieces: tuple[Piece, ...]
    completion_tokens: int
    finish_reason: str
    seed: int

    @property
    def text(self) -> str:
        """The whole text of the choice."""
        return "".join(piece.text for piece in self.pieces)


@dataclass(frozen=True)
class Generation:
    """Every choice of a request, and the token counts for ``usage``."""

    choices: tuple[GeneratedChoice, ...]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        """Tokens generated across all choices (echoed prompts not included)."""
        return sum(choice.completion_tokens for choice in self.choices)

    def usage(self) -> dict[str, int]:
        """The ``usage`` object."""
        completion = self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def generate(body: Mapping[str, Any]) -> Generation:
    """Every choice for a validated body: ``n`` per prompt, indexes consecutive."""
    n = body.get("n") or 1
    choices: list[GeneratedChoice] = []
    prompt_tokens = 0
    for number, prompt in enumerate(prompt_texts(body.get("prompt"))):
        prompt_tokens += len(tokenize(prompt))
        choices.extend(_choice(body, prompt, number * n + i, i) for i in range(n))
    return Generation(tuple(choices), prompt_tokens)


def _choice(body: Mapping[str, Any], prompt: str, index: int, sample: int) -> GeneratedChoice:
    # The sample number within its prompt, not the global index, picks the text: a
    # prompt gets the same choices alone or in a batch.
    key = f"{prompt}\x00{body.get('seed')}\x00{sample}"
    numbers = _numbers(key)
    max_tokens = body.get("max_tokens") or DEFAULT_MAX_TOKENS
    words = [" " + VOCABULARY[next(numbers) % len(VOCABULARY)] for _ in range(max_tokens)]
    words, finish_reason = _apply_stop(words, body.get("stop"))
    echoed = tokenize(prompt) if body.get("echo") else []
    top_k = body.get("logprobs")
    pieces: list[Piece] = []
    offset = 0
    for position, text in enumerate(echoed + words):
        if top_k is None or (position == 0 and echoed):
            # An echoed prompt's first token has nothing before it to be scored against.
            pieces.append(Piece(text, offset))
        else:
            logprob, top = _logprobs(text, top_k, next(numbers))
            pieces.append(Piece(text, offset, logprob, top))
        offset += len(text)
    return GeneratedChoice(index, tuple(pieces), len(words), finish_reason, next(numbers))


def _numbers(key: str) -> Iterator[int]:
    """An endless, reproducible stream of 64-bit numbers derived from ``key``."""
    counter = 0
    while True:
        digest = hashlib.blake2b(f"{key}\x00{counter}".encode(), digest_size=8).digest()
        yield int.from_bytes(digest, "big")
        counter += 1


def _apply_stop(words: list[str], stop: Any) -> tuple[list[str], str]:
    """Cut ``words`` before the first stop sequence: ``("stop")``, else ``("length")``."""
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    text = "".join(words)
    found = [position for position in map(text.find, stops) if position >= 0]
    if not found:
        return words, "length"
    cut = min(found)
    kept: list[str] = []
    offset = 0
    for word in words:
        if offset + len(word) > cut:
            if cut > offset:
                kept.append(word[: cut - offset])  # the stop sequence began inside this token
            break
        kept.append(word)
        offset += len(word)
    return kept, "stop"


def _logprobs(text: str, top_k: int, number: int) -> tuple[float, dict[str, float]]:
    """The chosen token's log probability and the ``top_k`` most likely alternatives."""
    logprob = -round(3 * number / _SCALE, 6)
    top: dict[str, float] = {}
    if top_k:
        top[text] = logprob
    start = number % len(VOCABULARY)
    for step in range(len(VOCABULARY)):
        if len(top) >= top_k:
            break
        candidate = " " + VOCABULARY[(start + step) % len(VOCABULARY)]
        top.setdefault(candidate, round(logprob - 0.5 * (len(top) + 1), 6))
    return logprob, top
