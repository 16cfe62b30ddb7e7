"""ModelReward keeps its last batch: one component shared by several reward functions scores items once."""

from __future__ import annotations

import torch

from rewardkit.rewards.model import ModelReward


class CountingScorer:
    calls = 0

    def score(self, prompts, responses, batch_size=16):
        CountingScorer.calls += 1
        return {"rewards": torch.tensor([float(len(r)) for r in responses])}


def test_the_same_batch_is_scored_once():
    reward = ModelReward(path="unused", scorer=CountingScorer())
    prompts = [[{"role": "user", "content": "q"}]] * 2
    first = reward.score(prompts, ["a", "bb"])
    first.append(99.0)  # callers get a copy
    assert reward.score(prompts, ["a", "bb"]) == [1.0, 2.0] and CountingScorer.calls == 1
    assert reward.score(prompts, ["a", "ccc"]) == [1.0, 3.0] and CountingScorer.calls == 2
