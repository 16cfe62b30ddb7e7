"""What the server scores through: a batch scorer.

A `BatchScorer` prepares one request item (validating and tokenizing it, which also gives its cost in
tokens for the batching budget), scores a batch of prepared items, and describes itself for /info.
`ModelBatchScorer` serves a rewardkit `Scorer` (reward head, or the implicit reward of DPO / HaF exports), scoring
each batch with prompt-grouped shared-prefix packing (items with equal prompt ids compute the prompt once);
`FunctionBatchScorer` serves any callable over (prompt messages, response) items, e.g. a hierarchical reward.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rewardkit.data.encoding import truncate_left
from rewardkit.data.record import DataError, Message
from rewardkit.finite import NonFiniteError
from rewardkit.serving.config import OVER_LENGTH

if TYPE_CHECKING:
    from rewardkit.evaluation.evaluate import Scorer


@dataclass(frozen=True)
class Conversation:
    """A prompt (chat messages) and the assistant response to score."""

    prompt: list[Message]
    response: str


@dataclass(frozen=True)
class RenderedText:
    """A conversation already rendered as one string with the chat template (OpenRLHF's `query`)."""

    text: str


@dataclass(frozen=True)
class PlainText:
    """A text scored as is, at its last token (TRL's standard format: prompt + completion strings)."""

    text: str


ScoreInput = Conversation | RenderedText | PlainText


@dataclass(frozen=True)
class PreparedItem:
    """A validated item: what `score` needs, its cost in tokens for the batch budget, and whether it was
    truncated to fit the length limit.

    Items with the same `prompt_key` share their first `prompt_tokens` tokens: a packed batch computes them
    once (the batch budget counts them once too).
    """

    payload: Any
    num_tokens: int
    truncated: bool = False
    prompt_key: Hashable | None = None
    prompt_tokens: int = 0

    @classmethod
    def of(cls, prompt_ids: list[int], response_ids: list[int], truncated: bool = False) -> PreparedItem:
        """A (prompt ids, response ids) item for packed scoring: grouped with the items of equal prompt ids."""
        return cls(
            (prompt_ids, response_ids),
            len(prompt_ids) + len(response_ids),
            truncated,
            prompt_key=tuple(prompt_ids),
            prompt_tokens=len(prompt_ids),
        )


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
        raise NonFiniteRewards(
            f"the reward is not finite for {len(bad)} item(s) of the batch (first: {bad[0]})", rewards
        )
    return rewards


class FunctionBatchScorer:
    """Serves `fn(list of (prompt messages, response)) -> list of floats`; rendered queries are refused."""

    def __init__(
        self,
        fn: Callable[[list[tuple[list[Message], str]]], Sequence[float]],
        info: dict[str, Any],
        count_tokens: Callable[[Conversation], int] | None = None,
    ):
        self.fn = fn
        self._info = dict(info)
        self.count_tokens = count_tokens or (
            lambda c: 1 + (len(c.response) + sum(len(m["content"]) for m in c.prompt)) // 4
        )

    def prepare(self, item: ScoreInput, index: int, source: str) -> PreparedItem:
        if not isinstance(item, Conversation):
            raise DataError(
                "this reward scores (prompt, response) items; rendered queries are not supported, nor are texts",
                source=source,
                index=index,
            )
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

    Items longer than the scorer's max_length: (prompt, response) items and texts follow `over_length`, rendered
    queries (/get_reward) `query_over_length`: "reject" refuses them (422); "truncate" cuts conversations like
    `rewardkit score` (oldest prompt turns first, then the end of the response, keeping its closing tokens) and
    rendered queries and texts from the left (the latest tokens, the reward's, are kept). Truncated items are
    flagged (`PreparedItem.truncated`).
    """

    def __init__(
        self,
        scorer: Scorer,
        *,
        reward: str | None = None,
        over_length: str = "reject",
        query_over_length: str = "truncate",
    ):
        from accelerate import Accelerator

        from rewardkit.serving.rendered import RenderedQuerySplitter

        self.scorer = scorer
        self.kind = reward or scorer.primary
        if self.kind == "implicit" and scorer.reference is None:
            raise ValueError(f"{scorer.name} has no implicit reward (it needs a policy export and its reference)")
        if self.kind == "reward" and not scorer.reward_head:
            raise ValueError(f"{scorer.name} has no trained reward head; serve its implicit reward instead")
        for name, value in (("over_length", over_length), ("query_over_length", query_over_length)):
            if value not in OVER_LENGTH:
                raise ValueError(f"{name} must be one of {OVER_LENGTH}, not {value!r}")
        self.over_length, self.query_over_length = over_length, query_over_length
        self.reward_stats = scorer.reward_stats  # from the checkpoint's config.json (normalisation from_model)
        self.encoder = scorer.encoder()
        self.renderer = self.encoder.renderer
        self.max_length = scorer.encoding.max_length
        self.accelerator = Accelerator()
        self.work: Counter[str] = Counter()  # what the forward passes computed (tokens, grid, attention pairs)
        try:
            self.splitter: RenderedQuerySplitter | None = RenderedQuerySplitter(scorer.tokenizer, self.renderer)
            self.splitter_error = ""
        except ValueError as e:
            self.splitter, self.splitter_error = None, str(e)

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
            elif isinstance(item, PlainText):
                prompt_ids, response_ids = self._encode_text(item.text, index, source)
            else:
                prompt_ids, response_ids = self.renderer.encode(item.prompt, [item.response])
                response_ids = response_ids[0]
        except TemplateError as e:
            raise DataError(
                f"the chat template rejected the conversation ({e})", source=source, index=index, field="prompt"
            ) from e
        total = len(prompt_ids) + len(response_ids)
        if total <= self.max_length:
            return PreparedItem.of(prompt_ids, response_ids)
        policy = self.query_over_length if isinstance(item, RenderedText) else self.over_length
        if policy == "reject":
            field = (
                "text"
                if isinstance(item, PlainText)
                else None
                if isinstance(item, RenderedText)
                else "prompt"
                if len(prompt_ids) >= self.max_length
                else "response"
            )
            raise DataError(
                f"{total} tokens (prompt {len(prompt_ids)}, response {len(response_ids)}) exceed "
                f"the limit of {self.max_length}",
                source=source,
                index=index,
                field=field,
            )
        if isinstance(item, Conversation):
            prompt_ids, response_ids = self.encoder.encode_single(item.prompt, item.response)
        else:
            prompt_ids, response_ids = truncate_left(prompt_ids, response_ids, self.max_length)
        return PreparedItem.of(prompt_ids, response_ids, truncated=True)

    def _encode_rendered(self, text: str, index: int, source: str) -> tuple[list[int], list[int]]:
        if self.splitter is None:
            raise DataError(self.splitter_error, source=source, index=index)
        try:
            prompt_text, response = self.splitter.split(text)
        except ValueError as e:
            raise DataError(str(e), source=source, index=index) from e
        return self.renderer.encode_rendered(prompt_text, response)  # texts cut to the character budget first

    def _encode_text(self, text: str, index: int, source: str) -> tuple[list[int], list[int]]:
        from rewardkit.evaluation.evaluate import text_sequence

        if self.kind == "implicit":
            raise DataError(
                "a text has no prompt / response boundary for the implicit reward; send a (prompt, response) item",
                source=source,
                index=index,
                field="text",
            )
        try:
            return text_sequence(self.renderer.tokenize(text))
        except ValueError as e:
            raise DataError(str(e), source=source, index=index, field="text") from e

    # ---- scoring ---------------------------------------------------------------------------------
    def score(self, batch: Sequence[PreparedItem]) -> list[float]:
        from rewardkit.evaluation.scoring import score_sequences

        implicit = self.kind == "implicit"
        out = score_sequences(
            self.scorer.model,
            [p.payload for p in batch],
            self.scorer.tokenizer.pad_token_id,
            batch_size=max(len(batch), 1),
            reward_head=not implicit,
            reference=self.scorer.reference if implicit else None,
            beta=self.scorer.beta,
            accelerator=self.accelerator,
            work=self.work,
        )
        return check_finite(out["implicit" if implicit else "rewards"].tolist())

    def info(self) -> dict[str, Any]:
        meta = self.scorer.metadata
        return {
            "model": self.scorer.name,
            "objective": meta.get("objective"),
            "reward": self.kind,
            "base_model": meta.get("base_model"),
            "max_length": self.max_length,
            "over_length": self.over_length,
            "query_over_length": self.query_over_length,
            "reward_position": self.scorer.encoding.reward_position,
            "rendered_queries": self.splitter is not None,
            "problem_type": getattr(self.scorer.model.config, "problem_type", None),
            "beta": self.scorer.beta if self.kind == "implicit" else None,
        }
