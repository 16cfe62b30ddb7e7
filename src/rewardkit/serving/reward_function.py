"""A TRL reward function that scores completions on a rewardkit server.

  from trl import GRPOTrainer
  reward = RemoteRewardFunction("http://127.0.0.1:8000")
  trainer = GRPOTrainer(model=..., reward_funcs=[reward], ...)

TRL calls it with `prompts` and `completions` (plus dataset columns, ignored), and each format is scored as
TRL's own `reward_funcs=<model path>` scores it, so both give the same reward: conversational (message lists; the
completion's messages follow the prompt's, the conversation is rendered with the model's chat template) or
standard (strings: `prompt + completion` scored as one text, at its last token, without a template).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardkit.serving.client import RewardClient


def completion_item(prompt: Any, completion: Any, index: int) -> dict[str, Any]:
    """One /score item from a TRL (prompt, completion): standard format (strings) is one text, as TRL scores it."""
    if isinstance(completion, list):
        prompt_messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        return {"messages": prompt_messages + completion}
    if not isinstance(completion, str):
        raise TypeError(f"completion {index}: expected a string or a list of messages, got {type(completion).__name__}")
    if isinstance(prompt, str):
        return {"text": prompt + completion}
    return {"prompt": prompt, "response": completion}


class RemoteRewardFunction:
    """`reward(prompts=..., completions=..., **columns) -> list[float]`, one reward per completion."""

    def __init__(
        self,
        server: str | RewardClient = "http://127.0.0.1:8000",
        *,
        token: str | None = None,
        normalize: bool | None = None,
        name: str = "rewardkit_server",
    ):
        self.client = server if isinstance(server, RewardClient) else RewardClient(server, token=token)
        self.normalize = normalize
        self.__name__ = name  # TRL logs rewards under the function's name

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        items = [completion_item(p, c, i) for i, (p, c) in enumerate(zip(prompts, completions))]
        return self.client.score(items, normalize=self.normalize)
