"""Preference pairs → token ids: chat template, truncation, EOS.

A pair is encoded as prompt ids (the rendered conversation up to the assistant's turn) and two response
id lists, each ending with the tokenizer's EOS. The reward is read at that EOS; prompt tokens never enter
a token-level loss. Truncation keeps the latest turns of the prompt, then cuts responses from the right.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from tqdm.auto import tqdm

from rewardkit.data.char_budget import bound_prompt, bound_response, char_budget
from rewardkit.data.record import Message, PreferencePair

log = logging.getLogger("rewardkit.data")

PLAIN_ROLE_PREFIX = {"system": "", "user": "\n\nHuman: ", "assistant": "\n\nAssistant: "}
PLAIN_GENERATION_PROMPT = "\n\nAssistant:"


@dataclass
class EncodingConfig:
    """How pairs become token sequences."""

    max_length: int = 512
    # The prompt keeps at least this many tokens (or all of it, if shorter) when responses are long.
    max_prompt_length: int | None = None  # default: max_length // 2
    use_chat_template: bool = True  # False forces the plain "Human:/Assistant:" template

    def prompt_floor(self) -> int:
        return self.max_prompt_length if self.max_prompt_length is not None else self.max_length // 2


@dataclass
class EncodedPair:
    """Token ids of one pair plus the per-pair numbers objectives may use."""

    prompt_ids: list[int]
    chosen_ids: list[int]  # ends with EOS
    rejected_ids: list[int]  # ends with EOS
    index: int  # position in the source list (keys cached per-pair values such as reference log-probs)
    margin: float | None = None
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def num_tokens(self) -> int:
        return 2 * len(self.prompt_ids) + len(self.chosen_ids) + len(self.rejected_ids)


class PromptRenderer:
    """Renders chat messages with the tokenizer's chat template, or a plain template when it has none."""

    def __init__(self, tokenizer: Any, use_chat_template: bool = True):
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no EOS token; rewardkit reads rewards at the EOS it appends")
        self.tokenizer = tokenizer
        self.use_chat_template = use_chat_template and bool(getattr(tokenizer, "chat_template", None))
        self.max_chars: int | None = None  # texts are cut to this many characters first (data/char_budget.py)

    def prompt_text(self, messages: list[Message]) -> str:
        if self.use_chat_template:
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        text = "".join(PLAIN_ROLE_PREFIX[m["role"]] + m["content"] for m in messages)
        return text + PLAIN_GENERATION_PROMPT

    def response_text(self, response: str) -> str:
        return response if self.use_chat_template else " " + response

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        messages = bound_prompt(messages, self.max_chars)
        return self.tokenizer(self.prompt_text(messages), add_special_tokens=False)["input_ids"]

    def response_ids(self, response: str) -> list[int]:
        response = bound_response(response, self.max_chars)
        ids = self.tokenizer(self.response_text(response), add_special_tokens=False)["input_ids"]
        return ids + [self.tokenizer.eos_token_id]


def _drop_oldest_turns(messages: list[Message]) -> list[Message] | None:
    """Remove the oldest user turn (and the assistant turn after it), keeping system messages.

    Returns None when only the final user turn is left.
    """
    system = [m for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    if len(rest) <= 1:
        return None
    cut = 1
    while cut < len(rest) - 1 and rest[cut]["role"] != "user":
        cut += 1
    return system + rest[cut:]


def truncate_response(ids: list[int], budget: int, eos_id: int) -> list[int]:
    """Cut a response from the right to `budget` tokens, keeping EOS as the last token."""
    if len(ids) <= budget:
        return ids
    return ids[: max(budget - 1, 0)] + [eos_id]


class PairEncoder:
    """Encodes pairs under a token budget; counts what truncation did."""

    def __init__(self, tokenizer: Any, config: EncodingConfig | None = None):
        self.config = config or EncodingConfig()
        self.renderer = PromptRenderer(tokenizer, self.config.use_chat_template)
        self.renderer.max_chars = char_budget(tokenizer, self.config.max_length)
        self.eos_id = tokenizer.eos_token_id
        self.stats: Counter[str] = Counter()

    def fit_prompt(self, messages: list[Message], longest_response: int) -> list[int]:
        cfg = self.config
        floor = min(cfg.prompt_floor(), cfg.max_length - 2)  # leave room for >= 1 response token + EOS
        budget = max(cfg.max_length - longest_response, floor)
        ids = self.renderer.prompt_ids(messages)
        if len(ids) <= budget:
            return ids
        self.stats["prompt_truncated"] += 1
        current: list[Message] | None = messages
        while len(ids) > budget:
            current = _drop_oldest_turns(current)
            if current is None:
                return ids[-budget:]  # last resort: keep the latest tokens of the final user turn
            ids = self.renderer.prompt_ids(current)
        return ids

    def encode(self, pair: PreferencePair, index: int = 0) -> EncodedPair:
        chosen = self.renderer.response_ids(pair.chosen)
        rejected = self.renderer.response_ids(pair.rejected)
        prompt = self.fit_prompt(pair.prompt, max(len(chosen), len(rejected)))
        budget = self.config.max_length - len(prompt)
        if len(chosen) > budget or len(rejected) > budget:
            self.stats["response_truncated"] += 1
        chosen = truncate_response(chosen, budget, self.eos_id)
        rejected = truncate_response(rejected, budget, self.eos_id)
        return EncodedPair(prompt, chosen, rejected, index=index, margin=pair.margin)

    def encode_all(self, pairs: Iterable[PreferencePair], desc: str = "encoding") -> list[EncodedPair]:
        """Encode pairs; pairs that become identical after truncation are dropped with a logged count."""
        out: list[EncodedPair] = []
        pairs = list(pairs)
        self.stats.clear()  # the counts logged below are this call's
        for i, pair in enumerate(tqdm(pairs, desc=desc, disable=len(pairs) < 2000, leave=False)):
            enc = self.encode(pair, index=i)
            if enc.chosen_ids == enc.rejected_ids:
                self.stats["identical_after_truncation"] += 1
                continue
            out.append(enc)
        self.log_stats(len(pairs))
        return out

    def log_stats(self, total: int) -> None:
        if not self.stats:
            return
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.stats.items()))
        log.info("encoded %d pairs at max_length=%d (%s)", total, self.config.max_length, parts)
        if self.stats.get("identical_after_truncation"):
            log.warning("dropped %d of %d pairs whose responses are identical after truncation",
                        self.stats["identical_after_truncation"], total)

    def encode_single(self, prompt: list[Message], response: str) -> tuple[list[int], list[int]]:
        """One (prompt, response) for scoring: returns (prompt_ids, response_ids ending in EOS)."""
        resp = self.renderer.response_ids(response)
        prompt_ids = self.fit_prompt(prompt, len(resp))
        return prompt_ids, truncate_response(resp, self.config.max_length - len(prompt_ids), self.eos_id)
