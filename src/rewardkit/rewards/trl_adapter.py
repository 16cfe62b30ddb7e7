"""A RewardFunction as a TRL reward function (GRPO / RLOO `reward_funcs` entry).

TRL calls `fn(prompts=..., completions=..., completion_ids=..., **columns)` where the columns are the
dataset's other columns (one value per completion) plus `trainer_state`, `log_extra` and `log_metric`.
Prompts and completions are either strings (standard format) or message lists (conversational: the
completion is `[{"role": "assistant", "content": ...}]`). Suite meta travels in a dataset column (default
`meta`, a JSON string so that Arrow can hold any meta) and reaches gold scorers.

RL here is sequence level: token-level aspect rewards are summed (GRPO / RLOO take one reward per
completion), unlike the paper's PPO, which puts them on their tokens.

`clip` clips every reward to [-clip, clip] before TRL sees it (PCRM's RL clips rewards to +-5): one place for
GRPO, which has no clipping of its own, and RLOO (the same as its `reward_clip_range`). Logged per step through
`log_metric`: each component's raw mean, the share of degenerate responses (when the reward penalises them) and,
with clipping, the unclipped mean and the share of clipped rewards.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardkit.rewards.base import Messages
from rewardkit.rewards.combinators import RewardFunction


def prompt_messages(prompt: Any, index: int) -> Messages:
    """TRL prompt -> chat messages (a string is one user turn)."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m for m in prompt):
        return [{"role": m["role"], "content": _text(m.get("content"), index, "prompt")} for m in prompt]
    raise TypeError(f"prompt {index}: expected a string or a list of messages, got {type(prompt).__name__}")


def completion_text(completion: Any, index: int) -> str:
    """TRL completion -> response text (conversational: the last assistant message's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        replies = [m for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
        if not replies:
            raise ValueError(f"completion {index}: no assistant message in {completion!r:.200}")
        return _text(replies[-1].get("content"), index, "completion")
    raise TypeError(f"completion {index}: expected a string or a list of messages, got {type(completion).__name__}")


def _text(content: Any, index: int, what: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep the text parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise TypeError(f"{what} {index}: message content must be text, got {type(content).__name__}")


def decode_meta(value: Any, index: int) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            decoded = json.loads(value) if value else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"completion {index}: meta column is not valid JSON ({e.msg})") from e
        if isinstance(decoded, dict):
            return decoded
    raise TypeError(f"completion {index}: meta must be a dict or a JSON object string, got {type(value).__name__}")


class TRLRewardFunction:
    """`reward(prompts, completions, **columns) -> list[float]` for TRL; logs each component's mean."""

    def __init__(
        self, reward: RewardFunction, *, meta_column: str = "meta", name: str | None = None, clip: float | None = None
    ):
        if clip is not None and not (math.isfinite(clip) and clip > 0):
            raise ValueError(f"reward clip must be a positive number, got {clip}")
        self.reward = reward
        self.meta_column = meta_column
        self.clip = clip
        self.__name__ = name or reward.name  # TRL names the reward's log columns after __name__

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None, **columns: Any
    ) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        messages = [prompt_messages(p, i) for i, p in enumerate(prompts)]
        texts = [completion_text(c, i) for i, c in enumerate(completions)]
        metas = None
        if self.meta_column in columns and columns[self.meta_column] is not None:
            metas = [decode_meta(v, i) for i, v in enumerate(columns[self.meta_column])]
        breakdown = self.reward.breakdown(messages, texts, metas)
        rewards = breakdown.rewards()
        clipped = rewards if self.clip is None else np.clip(rewards, -self.clip, self.clip)
        log_metric: Callable[[str, float], None] | None = columns.get("log_metric")
        if callable(log_metric) and len(rewards):
            prefix = f"rewards/{self.__name__}"
            for name, values in breakdown.raw.items():
                log_metric(f"{prefix}/{name}_raw", float(values.mean()))
            if breakdown.degenerate is not None:
                log_metric(f"{prefix}/degenerate_share", float(breakdown.degenerate.mean()))
            if self.clip is not None:
                log_metric(f"{prefix}/unclipped", float(rewards.mean()))
                log_metric(f"{prefix}/clipped_share", float((clipped != rewards).mean()))
        return [float(v) for v in clipped]
