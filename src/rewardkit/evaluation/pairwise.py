"""Pairwise metrics: strict accuracy (a tie counts as wrong and is reported), margins, per-subset accuracy."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch


def pairwise_metrics(
    chosen: torch.Tensor, rejected: torch.Tensor, subsets: Sequence[str | None] | None = None
) -> dict[str, object]:
    """accuracy = fraction with chosen > rejected (ties wrong); ties; margin mean/std/max; per-subset accuracy."""
    chosen, rejected = chosen.double(), rejected.double()
    margin = chosen - rejected
    n = margin.numel()
    if n == 0:
        raise ValueError("no pairs to evaluate")
    correct = margin > 0
    out: dict[str, object] = {
        "pairs": n,
        "accuracy": correct.double().mean().item(),
        "ties": int((margin == 0).sum().item()),
        "margin_mean": margin.mean().item(),
        "margin_std": margin.std(unbiased=False).item(),
        "margin_max": margin.max().item(),
        "reward_mean": torch.cat([chosen, rejected]).mean().item(),
        "reward_std": torch.cat([chosen, rejected]).std(unbiased=False).item(),
    }
    if subsets is not None and any(s is not None for s in subsets):
        groups: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(subsets):
            groups[s or "(none)"].append(i)
        out["subsets"] = {
            name: {"pairs": len(idx), "accuracy": correct[idx].double().mean().item()}
            for name, idx in sorted(groups.items())
        }
    return out
