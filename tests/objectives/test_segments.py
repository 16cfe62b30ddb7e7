"""The per-segment BCE (objectives/segments.py) against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from rewardkit.objectives.segments import SegmentObjective, SegmentObjectiveConfig, segment_bce_loss


def test_segment_bce_hand_computed():
    logits = torch.tensor([0.0, 2.0, -1.0, 3.0])
    labels = torch.tensor([1.0, 0.0, 1.0, -1.0])  # ok, error, ok, not judged
    # -log sig(0) = log 2; error at z=2: -log sig(-2) = log(1 + e^2); ok at z=-1: log(1 + e)
    expected = [math.log(2), math.log(1 + math.e**2), math.log(1 + math.e), 0.0]
    assert segment_bce_loss(logits, labels).tolist() == pytest.approx(expected, abs=1e-6)
    weighted = segment_bce_loss(logits, labels, negative_weight=2.0).tolist()
    assert weighted == pytest.approx([expected[0], 2 * expected[1], expected[2], 0.0], abs=1e-6)


def test_objective_means_over_judged_segments_and_reports_metrics():
    logits = torch.tensor([0.0, 2.0, -1.0, 3.0], requires_grad=True)
    batch = {"segment_labels": torch.tensor([1.0, 0.0, 1.0, -1.0])}
    out = SegmentObjective(SegmentObjectiveConfig(negative_weight=2.0))(logits, None, None, batch)
    expected = (math.log(2) + 2 * math.log(1 + math.e**2) + math.log(1 + math.e)) / 3
    assert out.loss.item() == pytest.approx(expected, abs=1e-6)
    # z > 0 predicts "no error": z=0 -> error (wrong), z=2 -> ok (wrong), z=-1 -> error (wrong)
    assert out.per_pair["accuracy"].tolist() == [0.0, 0.0, 0.0]
    assert out.per_pair["error_rate"].tolist() == [0.0, 1.0, 0.0]
    out.loss.backward()
    assert logits.grad[3].item() == 0.0  # the unjudged segment gets no gradient
    empty = SegmentObjective()(logits, None, None, {"segment_labels": torch.full((4,), -1.0)})
    assert empty.loss.item() == 0.0
    with pytest.raises(ValueError):
        SegmentObjectiveConfig(negative_weight=0.0)
