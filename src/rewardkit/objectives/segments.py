"""The per-segment objective of segment-level (fine-grained) reward models.

The reward head's value at a segment's last token is a logit z of "this segment has no error" (label 1) vs
"it has one" (label 0), trained with binary cross-entropy on the judged segments (label -1: not judged):

    loss(z, y) = w_y * (-y log sig(z) - (1 - y) log sig(-z)),    w_1 = 1, w_0 = negative_weight

so the model's value keeps its sign as a reward: positive = judged fine, negative = judged an error, and
sig(z) is the probability of "no error". `negative_weight` > 1 counts error segments more (rare errors).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rewardkit.objectives.objective import ObjectiveOutput

NOT_JUDGED = -1.0


def segment_bce_loss(logits: torch.Tensor, labels: torch.Tensor, negative_weight: float = 1.0) -> torch.Tensor:
    """Per-segment weighted BCE with logits (shape of `logits`); segments labelled -1 get 0."""
    judged = labels != NOT_JUDGED
    target = labels.clamp(min=0.0).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    weight = torch.where(target > 0.5, torch.ones_like(loss), torch.full_like(loss, negative_weight))
    return torch.where(judged, weight * loss, torch.zeros_like(loss))


@dataclass
class SegmentObjectiveConfig:
    """What a segment model minimises: `negative_weight` weighs error segments in the BCE."""

    negative_weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.negative_weight > 0:
            raise ValueError(f"negative_weight must be > 0, got {self.negative_weight}")


class SegmentObjective:
    """Duck-types `objectives.Objective` for RewardTrainer: rewards in, ObjectiveOutput out. The loss is the mean
    weighted BCE over the batch's judged segments; metrics are per judged segment."""

    needs_rewards = True
    needs_logps = False
    needs_reference = False

    def __init__(self, config: SegmentObjectiveConfig | None = None):
        self.config = config or SegmentObjectiveConfig()

    def __call__(
        self,
        rewards: torch.Tensor | None,
        logps: torch.Tensor | None,
        ref_logps: torch.Tensor | None,
        batch: dict[str, torch.Tensor],
    ) -> ObjectiveOutput:
        if rewards is None:
            raise ValueError("the segment objective needs the reward head's values at the segment positions")
        labels = batch["segment_labels"].to(rewards.device)
        judged = labels != NOT_JUDGED
        per_segment = segment_bce_loss(rewards, labels, self.config.negative_weight)
        count = judged.sum()
        loss = per_segment.sum() / count.clamp(min=1)  # a batch without judged segments contributes 0
        y, z = labels[judged], rewards[judged].detach()
        per = {
            "loss_segment": per_segment[judged].detach(),
            "accuracy": ((z > 0).float() == y).float(),
            "error_rate": (y == 0).float(),
            "predicted_error_rate": (z <= 0).float(),
        }
        return ObjectiveOutput(loss=loss, per_pair=per, rewards=z)
