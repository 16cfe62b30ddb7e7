"""What the server scores through: a batch scorer.

A `BatchScorer` prepares one request item (validating and tokenizing it, which also gives its cost in
tokens for the batching budget), scores a batch of prepared items, and describes itself for /info.
`ModelBatchScorer` serves a rewardkit `Scorer` (reward head, or the implicit reward of DPO / HaF exports);
`FunctionBatchScorer` serves any callable over (prompt messages, response) items, e.g. a hierarchical reward.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from rewardkit.data.char_budget import bound_latest
from rewardkit.data.record import DataError, Message
from rewardkit.finite import NonFiniteError

if TYPE_CHECKING:
    from rewardkit.evaluation.evaluate import Scorer

log = logging.getLogger("rewardkit.serving")


@dataclass(frozen=True)
class Conversation:
    """A prompt (chat messages) and the assistant response to score."""

    prompt: list[Message]
    response: str


@dataclass(frozen=True)
class RenderedText:
    """A conversation already rendered as one string with the chat template (OpenRLHF's `query`)."""

    text: str


ScoreInput = Conversation | RenderedText


@dataclass(frozen=True)
class PreparedItem:
    """A validated item: what `score` needs, and its cost in tokens for the batch budget."""

    payload: Any
    num_tokens: int


class BatchScorer(Protocol):
    """The server's only view of a reward."""

    def prepare(self, item: ScoreInput, index: int, source: str) -> PreparedItem:
        """Validate one item; DataError (naming `source`, `index` and the field) when it cannot be scored."""

    def score(self, batch: Sequence[PreparedItem]) -> list[float]:
        """Rewards of prepared items, in order."""

    def info(self) -> dict[str, Any]:
        """What /info reports about the reward (model, objective, ...)."""


class NonFiniteRewards(NonFiniteError):
    """Some rewards of a batch are not finite; `rewards` holds them all (the server fails only those items)."""

    def __init__(self, message: str, rewards: list[float]):
        super().__init__(message)
        self.rewards = rewards


def check_finite(rewards: list[float]) -> list[float]:
    bad = [i for i, r in enumerate(rewards) if not math.isfinite(r)]
    if bad:
        raise NonFiniteRewards(f"the reward is not finite for {len(bad)} item(s) of the batch (first: {bad[0]})",
                               rewards)
    return rewards


class FunctionBatchScorer:
    """Serves `fn(list of (prompt messages, response)) -> list of floats`; rendered queries are refused."""

    def __init__(self, fn: Callable[[list[tuple[list[Message], str]]], Sequence[float]], info: dict[str, Any],
                 count_tokens: Callable[[Conversation], int] | None = None):
        self.fn = fn
        self._info = dict(info)
        self.count_tokens = count_tokens or (lambda c: 1 + (len(c.response) + sum(len(m["content"])
                                                                                 for m in c.prompt)) // 4)

    def prepare(self, item: ScoreInput, index: int, source: str) -> PreparedItem:
        if isinstance(item, RenderedText):
            raise DataError("this reward scores (prompt, response) items; rendered queries are not supported",
                            source=source, index=index)
        return PreparedItem(item, self.count_tokens(item))

    def score(self, batch: Sequence[PreparedItem]) -> list[float]:
        rewards = [float(r) for r in self.fn([(p.payload.prompt, p.payload.response) for p in batch])]
        if len(rewards) != len(batch):
            raise RuntimeError(f"the reward function returned {len(rewards)} rewards for {len(batch)} items")
        return check_finite(rewards)

    def info(self) -> dict[str, Any]:
        return dict(self._info)


class ModelBatchScorer:
    """A rewardkit Scorer behind the BatchScorer interface.

    Items longer than the scorer's max_length are refused (`over_length="reject"`) or truncated like
    `rewardkit score` does (`"truncate"`: oldest prompt turns first, then the end of the response).
    """

    def __init__(self, scorer: Scorer, *, reward: str | None = None, over_length: str = "reject"):
        from accelerate import Accelerator

        from rewardkit.serving.rendered import RenderedQuerySplitter

        self.scorer = scorer
        self.kind = reward or scorer.primary
        if self.kind == "implicit" and scorer.reference is None:
            raise ValueError(f"{scorer.name} has no implicit reward (it needs a policy export and its reference)")
        if self.kind == "reward" and not scorer.reward_head:
            raise ValueError(f"{scorer.name} has no trained reward head; serve its implicit reward instead")
        if over_length not in ("reject", "truncate"):
            raise ValueError(f"over_length must be 'reject' or 'truncate', not {over_length!r}")
        self.over_length = over_length
        self.encoder = scorer.encoder()
        self.renderer = self.encoder.renderer
        self.max_length = scorer.encoding.max_length
        self.eos_id = scorer.tokenizer.eos_token_id
        self.accelerator = Accelerator()
        try:
            self.splitter: RenderedQuerySplitter | None = RenderedQuerySplitter(scorer.tokenizer, self.renderer)
            self.splitter_error = ""
        except ValueError as e:
            self.splitter, self.splitter_error = None, str(e)
        if not scorer.metadata:
            log.warning("%s is not a rewardkit export: its reward head is at random init", scorer.name)

    @property
    def max_chars(self) -> int | None:
        """Characters beyond which an item certainly has more than max_length tokens (data/char_budget.py)."""
        return self.renderer.max_chars

    # ---- preparation -----------------------------------------------------------------------------
    def prepare(self, item: ScoreInput, index: int, source: str) -> PreparedItem:
        from jinja2 import TemplateError

        try:
            if isinstance(item, RenderedText):
                prompt_ids, response_ids = self._encode_rendered(item.text, index, source)
                field = None
            else:
                prompt_ids, response_ids = self._encode_conversation(item)
                field = "prompt" if len(prompt_ids) + 1 > self.max_length else "response"  # +1: the EOS
        except TemplateError as e:
            raise DataError(f"the chat template rejected the conversation ({e})", source=source, index=index,
                            field="prompt") from e
        total = len(prompt_ids) + len(response_ids)
        if total > self.max_length:
            if self.over_length == "reject":
                raise DataError(f"{total} tokens (prompt {len(prompt_ids)}, response {len(response_ids)}) exceed "
                                f"the limit of {self.max_length}", source=source, index=index, field=field)
            prompt_ids, response_ids = self._truncate(item, prompt_ids, response_ids)
        return PreparedItem((prompt_ids, response_ids), len(prompt_ids) + len(response_ids))

    def _encode_conversation(self, item: Conversation) -> tuple[list[int], list[int]]:
        return self.renderer.prompt_ids(item.prompt), self.renderer.response_ids(item.response)

    def _encode_rendered(self, text: str, index: int, source: str) -> tuple[list[int], list[int]]:
        if self.splitter is None:
            raise DataError(self.splitter_error, source=source, index=index)
        try:
            prompt_text, response = self.splitter.split(text)
        except ValueError as e:
            raise DataError(str(e), source=source, index=index) from e
        prompt_text = bound_latest(prompt_text, self.renderer.max_chars)  # bounded work (data/char_budget.py)
        prompt_ids = self.scorer.tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        return prompt_ids, self.renderer.response_ids(response)

    def _truncate(self, item: ScoreInput, prompt_ids: list[int],
                  response_ids: list[int]) -> tuple[list[int], list[int]]:
        from rewardkit.data.encoding import truncate_response

        if isinstance(item, Conversation):
            return self.encoder.encode_single(item.prompt, item.response)
        # a rendered prompt has no turns left to drop: keep its latest tokens, like fit_prompt's last resort
        floor = min(self.encoder.config.prompt_floor(), self.max_length - 2)
        prompt_ids = prompt_ids[-max(self.max_length - len(response_ids), floor):]
        return prompt_ids, truncate_response(response_ids, self.max_length - len(prompt_ids), self.eos_id)

    # ---- scoring ---------------------------------------------------------------------------------
    def score(self, batch: Sequence[PreparedItem]) -> list[float]:
        from rewardkit.evaluation.scoring import score_sequences

        implicit = self.kind == "implicit"
        out = score_sequences(self.scorer.model, [p.payload for p in batch], self.scorer.tokenizer.pad_token_id,
                              batch_size=max(len(batch), 1), reward_head=not implicit,
                              reference=self.scorer.reference if implicit else None, beta=self.scorer.beta,
                              accelerator=self.accelerator)
        return check_finite(out["implicit" if implicit else "rewards"].tolist())

    def info(self) -> dict[str, Any]:
        meta = self.scorer.metadata
        return {"model": self.scorer.name, "objective": meta.get("objective"), "reward": self.kind,
                "base_model": meta.get("base_model"), "max_length": self.max_length,
                "over_length": self.over_length, "rendered_queries": self.splitter is not None,
                "beta": self.scorer.beta if self.kind == "implicit" else None}
