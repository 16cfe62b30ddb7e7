"""Preference pairs → token ids: chat template, truncation, the token the reward is read at.

The scoring-position contract (docs/architecture.md): a conversation (prompt messages + the assistant response)
is rendered whole by the tokenizer's chat template (add_generation_prompt=False) and tokenized once without
added special tokens; the reward is read at its LAST token, as TRL (GRPO `reward_funcs=<path>`, RewardTrainer on
conversational data), verl's re-templated reward model and a text-classification pipeline do. For ChatML that is
the newline after the response's <|im_end|>. A tokenizer without a chat template gets rewardkit's plain template
(`PLAIN_CHAT_TEMPLATE`: Human: / Assistant: turns, EOS after the final response), which exports carry, so every
tool renders what rewardkit trained on.

A pair is stored as prompt ids (the render of the prompt with its generation prompt) and each response's ids:
the rest of the conversation's render, template tokens after the response included, so prompt + response is
exactly the tokenized render. When the tokens of the prompt alone are not a prefix of the conversation's (a
template that renders the prompt differently, or tokens merging across the boundary), the prompt is the
common prefix (as TRL's DPOTrainer does) and the merge is counted. Prompt tokens never enter a token-level
loss; the response part (template tokens included) does.

Exports written before this contract read the reward at an EOS appended to the bare response
(`reward_position="appended_eos"`); they are still encoded that way (their rewardkit.json lacks the marker).
Truncation keeps the latest turns of the prompt, then cuts responses from the right, keeping their closing
template tokens.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from rewardkit.data.char_budget import bound_latest, bound_prompt, bound_response, char_budget
from rewardkit.data.record import Message, PreferencePair

log = logging.getLogger("rewardkit.data")

PLAIN_ROLE_PREFIX = {"system": "", "user": "\n\nHuman: ", "assistant": "\n\nAssistant: "}
PLAIN_GENERATION_PROMPT = "\n\nAssistant:"
# The plain format as a chat template: what rewardkit renders for a tokenizer without one, and what its exports
# carry. The final assistant turn ends with EOS; earlier turns do not (the HH-RLHF transcript format).
PLAIN_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{{ '\\n\\nHuman: ' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' -%}{{ '\\n\\nAssistant: ' + message['content'] }}"
    "{%- if loop.last and not add_generation_prompt %}{{ eos_token }}{% endif -%}"
    "{%- else -%}{{ message['content'] }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '\\n\\nAssistant:' }}{%- endif -%}"
)
REWARD_POSITIONS = ("conversation_end", "appended_eos")
PROBE_PROMPT, PROBE_RESPONSE = "rewardkit-probe-prompt", "rewardkit-probe-response"


@dataclass
class EncodingConfig:
    """How pairs become token sequences."""

    max_length: int = 512
    # The prompt keeps at least this many tokens (or all of it, if shorter) when responses are long.
    max_prompt_length: int | None = None  # default: max_length // 2
    use_chat_template: bool = True  # False forces the plain "Human:/Assistant:" template
    # conversation_end: the last token of the whole conversation's render (the contract above); appended_eos: an
    # EOS appended to the bare response (exports written before the contract)
    reward_position: str = "conversation_end"

    def __post_init__(self) -> None:
        if self.reward_position not in REWARD_POSITIONS:
            raise ValueError(f"reward_position must be one of {REWARD_POSITIONS}, not {self.reward_position!r}")

    def prompt_floor(self) -> int:
        return self.max_prompt_length if self.max_prompt_length is not None else self.max_length // 2


@dataclass
class EncodedPair:
    """Token ids of one pair plus the per-pair numbers objectives may use."""

    prompt_ids: list[int]
    chosen_ids: list[int]  # the rest of the conversation's render: the reward is read at its last token
    rejected_ids: list[int]
    index: int  # position in the source list (keys cached per-pair values such as reference log-probs)
    margin: float | None = None
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def num_tokens(self) -> int:
        return 2 * len(self.prompt_ids) + len(self.chosen_ids) + len(self.rejected_ids)


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens `a` and `b` have in common."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class PromptRenderer:
    """Renders conversations with the tokenizer's chat template (or the plain one) and tokenizes them as one.

    `response_prefix` / `response_closing`: the text the template puts right before / after an assistant
    response in final position (plain: a space and EOS; ChatML: nothing and <|im_end|> + newline), found by
    rendering a probe.
    """

    def __init__(self, tokenizer: Any, use_chat_template: bool = True, reward_position: str = "conversation_end"):
        own = getattr(tokenizer, "chat_template", None)
        self.tokenizer = tokenizer
        self.use_chat_template = use_chat_template and isinstance(own, str) and bool(own)
        self.template: str = own if self.use_chat_template else PLAIN_CHAT_TEMPLATE
        self.legacy = reward_position == "appended_eos"
        if tokenizer.eos_token_id is None and (self.legacy or not self.use_chat_template):
            raise ValueError("the tokenizer has no EOS token, which ends every response in rewardkit's plain template")
        self.response_prefix, self.response_closing = self._response_frame()
        self.closing_ids = self.tokenize(self.response_closing) if self.response_closing else []
        self.boundary_merges = 0  # conversations whose prompt tokens are not a prefix of the whole render's
        self.max_chars: int | None = None  # texts are cut to this many characters first (data/char_budget.py)

    # ---- text -------------------------------------------------------------------------------------
    def render(self, messages: list[Message], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(
            messages, chat_template=self.template, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def prompt_text(self, messages: list[Message]) -> str:
        """The prompt with the generation prompt: what a policy continues."""
        return self.render(messages, add_generation_prompt=True)

    def conversation_text(self, prompt: list[Message], response: str) -> str:
        """The whole conversation as every tool renders it: the reward is read at its last token."""
        return self.render(list(prompt) + [{"role": "assistant", "content": response}], add_generation_prompt=False)

    def response_text(self, response: str) -> str:
        """The response as it follows the prompt text: prefix + response + closing (legacy: prefix + response)."""
        return self.response_prefix + response + ("" if self.legacy else self.response_closing)

    def _response_frame(self) -> tuple[str, str]:
        probe = [{"role": "user", "content": PROBE_PROMPT}]
        prompt = self.prompt_text(probe)
        whole = self.conversation_text(probe, PROBE_RESPONSE)
        at = whole.find(PROBE_RESPONSE, len(prompt) if whole.startswith(prompt) else 0)
        if not whole.startswith(prompt) or at < 0:
            return "", ""  # a template that renders the prompt differently inside the conversation
        return whole[len(prompt) : at], whole[at + len(PROBE_RESPONSE) :]

    # ---- tokens -----------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        return self.tokenize(self.prompt_text(bound_prompt(messages, self.max_chars)))

    def encode(self, prompt: list[Message], responses: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """(prompt ids, each response's ids): prompt + response is the tokenized render of that conversation."""
        prompt = bound_prompt(prompt, self.max_chars)
        responses = [bound_response(r, self.max_chars) for r in responses]
        prompt_ids = self.prompt_ids(prompt)
        if self.legacy:
            eos = self.tokenizer.eos_token_id
            return prompt_ids, [self.tokenize(self.response_text(r)) + [eos] for r in responses]
        return self.split(prompt_ids, [self.tokenize(self.conversation_text(prompt, r)) for r in responses])

    def encode_rendered(self, prompt_text: str, response: str) -> tuple[list[int], list[int]]:
        """A prompt already rendered with its generation prompt (e.g. split from an OpenRLHF query) and a response:
        the ids `encode` gives the same conversation, when the template renders prompts the same way alone."""
        prompt_text, response = bound_latest(prompt_text, self.max_chars), bound_response(response, self.max_chars)
        prompt_ids = self.tokenize(prompt_text)
        if self.legacy:
            return prompt_ids, self.tokenize(self.response_text(response)) + [self.tokenizer.eos_token_id]
        prompt_ids, (response_ids,) = self.split(
            prompt_ids, [self.tokenize(prompt_text + self.response_text(response))]
        )
        return prompt_ids, response_ids

    def split(self, prompt_ids: list[int], wholes: list[list[int]]) -> tuple[list[int], list[list[int]]]:
        """Split tokenized conversations at the prompt boundary: the prompt's tokens, or their longest prefix that
        every conversation shares (counted in `boundary_merges`), so that prompt + response == conversation."""
        n = min(common_prefix_length(prompt_ids, w) for w in wholes)
        n = min([n] + [len(w) - 1 for w in wholes])  # every response keeps at least its last token
        if n < len(prompt_ids):
            self.boundary_merges += 1
            if self.boundary_merges == 1:
                log.warning(
                    "the tokenized prompt is not a prefix of the tokenized conversation (the chat template "
                    "renders the prompt differently alone, or tokens merge across the boundary); the "
                    "response starts where they diverge, after %r",
                    self.tokenizer.decode(prompt_ids[max(n - 8, 0) : n]),
                )
        return wholes[0][:n], [w[n:] for w in wholes]

    def tail_length(self, response_ids: list[int]) -> int:
        """How many final tokens truncation keeps: the closing template tokens (legacy: the EOS)."""
        k = len(self.closing_ids)
        return k if not self.legacy and k and response_ids[-k:] == self.closing_ids else 1


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


def truncate_response(ids: list[int], budget: int, tail: int = 1) -> list[int]:
    """Cut a response from the right to `budget` tokens, keeping its last `tail` tokens (the closing template
    tokens the reward is read after)."""
    if len(ids) <= budget:
        return ids
    tail = min(tail, budget, len(ids))
    return ids[: max(budget - tail, 0)] + ids[len(ids) - tail :]


def truncate_left(prompt_ids: list[int], response_ids: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """Keep the latest `max_length` tokens of prompt + response (the reward is read at the last one): the prompt
    loses its start first; a response longer than the limit keeps its end and one prompt token."""
    if len(prompt_ids) + len(response_ids) <= max_length:
        return prompt_ids, response_ids
    if len(response_ids) < max_length:
        return prompt_ids[len(prompt_ids) + len(response_ids) - max_length :], response_ids
    return prompt_ids[-1:], response_ids[len(response_ids) - max_length + 1 :]


class PairEncoder:
    """Encodes pairs under a token budget; counts what truncation did."""

    def __init__(self, tokenizer: Any, config: EncodingConfig | None = None):
        self.config = config or EncodingConfig()
        self.renderer = PromptRenderer(tokenizer, self.config.use_chat_template, self.config.reward_position)
        self.renderer.max_chars = char_budget(tokenizer, self.config.max_length)
        self.stats: Counter[str] = Counter()

    def fit(self, messages: list[Message], responses: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """Prompt and response ids with the prompt cut to leave the longest response room (oldest turns first)."""
        cfg = self.config
        prompt_ids, response_ids = self.renderer.encode(messages, responses)
        tail = max(self.renderer.tail_length(r) for r in response_ids)
        floor = min(cfg.prompt_floor(), cfg.max_length - tail - 1)  # room for >= 1 response token + its tail
        budget = max(cfg.max_length - max(len(r) for r in response_ids), floor)
        if len(prompt_ids) <= budget:
            return prompt_ids, response_ids
        self.stats["prompt_truncated"] += 1
        current: list[Message] | None = messages
        while len(prompt_ids) > budget:
            current = _drop_oldest_turns(current)
            if current is None:  # last resort: keep the latest tokens of the final user turn
                return prompt_ids[-budget:], response_ids
            prompt_ids, response_ids = self.renderer.encode(current, responses)
        return prompt_ids, response_ids

    def cut_response(self, ids: list[int], budget: int) -> list[int]:
        return truncate_response(ids, budget, self.renderer.tail_length(ids))

    def encode(self, pair: PreferencePair, index: int = 0) -> EncodedPair:
        prompt, (chosen, rejected) = self.fit(pair.prompt, [pair.chosen, pair.rejected])
        budget = self.config.max_length - len(prompt)
        if len(chosen) > budget or len(rejected) > budget:
            self.stats["response_truncated"] += 1
        return EncodedPair(
            prompt,
            self.cut_response(chosen, budget),
            self.cut_response(rejected, budget),
            index=index,
            margin=pair.margin,
        )

    def encode_all(self, pairs: Iterable[PreferencePair], desc: str = "encoding") -> list[EncodedPair]:
        """Encode pairs; pairs that become identical after truncation are dropped with a logged count."""
        out: list[EncodedPair] = []
        pairs = list(pairs)
        self.stats.clear()  # the counts logged below are this call's
        merges = self.renderer.boundary_merges
        for i, pair in enumerate(tqdm(pairs, desc=desc, disable=len(pairs) < 2000, leave=False)):
            enc = self.encode(pair, index=i)
            if enc.chosen_ids == enc.rejected_ids:
                self.stats["identical_after_truncation"] += 1
                continue
            out.append(enc)
        if self.renderer.boundary_merges > merges:
            self.stats["prompt_boundary_merged"] = self.renderer.boundary_merges - merges
        self.log_stats(len(pairs))
        return out

    def log_stats(self, total: int) -> None:
        if not self.stats:
            return
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.stats.items()))
        log.info("encoded %d pairs at max_length=%d (%s)", total, self.config.max_length, parts)
        if self.stats.get("identical_after_truncation"):
            log.warning(
                "dropped %d of %d pairs whose responses are identical after truncation",
                self.stats["identical_after_truncation"],
                total,
            )

    def encode_single(self, prompt: list[Message], response: str) -> tuple[list[int], list[int]]:
        """One (prompt, response) for scoring: (prompt_ids, response_ids), the reward read at the last one."""
        prompt_ids, (response_ids,) = self.fit(prompt, [response])
        return prompt_ids, self.cut_response(response_ids, self.config.max_length - len(prompt_ids))

    def encode_text(self, text: str) -> list[int]:
        """A text scored as is (TRL's standard format, pipelines): its tokens, the latest `max_length` kept."""
        ids = self.renderer.tokenize(bound_latest(text, self.renderer.max_chars))
        if len(ids) > self.config.max_length:
            self.stats["text_truncated"] += 1
        return ids[-self.config.max_length :]
