"""Accumulates per-pair metric values between log events; summaries are exact means over all pairs seen.

Sums stay on the values' device (float64) between log events, so a training step costs no host sync; `pop`
reads everything back in one transfer, after an optional reduction across processes (one collective per
logging step instead of one per metric per micro-step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Reduce = Callable[[torch.Tensor], torch.Tensor]  # e.g. a sum across processes


class MetricAccumulator:
    """Collects (P,) tensors per name and pooled rewards; `summary()` gives means (and reward mean/std)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.rewards: torch.Tensor | None = None  # [sum, sum of squares]
        self.reward_n = 0

    def add(self, per_pair: dict[str, torch.Tensor], rewards: torch.Tensor | None = None) -> None:
        for name, values in per_pair.items():
            values = values.detach().double()
            self.sums[name] = values.sum() + self.sums.get(name, 0.0)
            self.counts[name] = self.counts.get(name, 0) + values.numel()
        if rewards is not None:
            rewards = rewards.detach().double()
            moments = torch.stack([rewards.sum(), (rewards**2).sum()])
            self.rewards = moments if self.rewards is None else self.rewards + moments
            self.reward_n += rewards.numel()

    def summary(self, reduce: Reduce | None = None) -> dict[str, float]:
        """Means per name (and reward_mean / reward_std); `reduce` sums the totals across processes first (every
        process must call it, with the same names)."""
        names = sorted(self.sums)
        parts = [torch.stack([self.sums[n] for n in names])] if names else []
        device = parts[0].device if parts else (self.rewards.device if self.rewards is not None else "cpu")
        parts.append(torch.tensor([self.counts[n] for n in names], dtype=torch.float64, device=device))
        rewards = self.rewards if self.rewards is not None else torch.zeros(2, dtype=torch.float64, device=device)
        parts.append(
            torch.cat([rewards.to(device), torch.tensor([float(self.reward_n)], dtype=torch.float64, device=device)])
        )
        totals = torch.cat(parts)
        if reduce is not None:
            totals = reduce(totals)
        values = totals.tolist()  # the one host sync
        k = len(names)
        sums, counts, (reward_sum, reward_sq, reward_n) = values[:k], values[k : 2 * k], values[2 * k :]
        out = {name: s / c for name, s, c in zip(names, sums, counts) if c}
        if reward_n:
            mean = reward_sum / reward_n
            out["reward_mean"] = mean
            out["reward_std"] = max(reward_sq / reward_n - mean**2, 0.0) ** 0.5
        return out

    def reset(self) -> None:
        self.__init__()

    def pop(self, reduce: Reduce | None = None) -> dict[str, float]:
        out = self.summary(reduce)
        self.reset()
        return out
