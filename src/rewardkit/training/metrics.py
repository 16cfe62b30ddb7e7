"""Accumulates per-pair metric values between log events; summaries are exact means over all pairs seen."""

from __future__ import annotations

from collections import defaultdict

import torch


class MetricAccumulator:
    """Collects (P,) tensors per name and pooled rewards; `summary()` gives means (and reward mean/std)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.reward_sum = 0.0
        self.reward_sq = 0.0
        self.reward_n = 0

    def add(self, per_pair: dict[str, torch.Tensor], rewards: torch.Tensor | None = None) -> None:
        for name, values in per_pair.items():
            values = values.detach().float()
            self.sums[name] += values.sum().item()
            self.counts[name] += values.numel()
        if rewards is not None:
            rewards = rewards.detach().float()
            self.reward_sum += rewards.sum().item()
            self.reward_sq += (rewards ** 2).sum().item()
            self.reward_n += rewards.numel()

    def summary(self) -> dict[str, float]:
        out = {name: self.sums[name] / self.counts[name] for name in self.sums if self.counts[name]}
        if self.reward_n:
            mean = self.reward_sum / self.reward_n
            out["reward_mean"] = mean
            out["reward_std"] = max(self.reward_sq / self.reward_n - mean ** 2, 0.0) ** 0.5
        return out

    def reset(self) -> None:
        self.__init__()

    def pop(self) -> dict[str, float]:
        out = self.summary()
        self.reset()
        return out
