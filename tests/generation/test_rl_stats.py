"""Paired before/after statistics of `rewardkit rl` (hand-computed)."""

import math

import pytest

from rewardkit.generation.rl import paired_change


def test_paired_change_hand_computed():
    # differences 0.5, 0.0, 0.25: mean 0.25; sample sd sqrt(((0.25)^2 + (0.25)^2 + 0) / 2) = 0.25; SE 0.25 / sqrt(3)
    out = paired_change([0.0, 1.0, 0.5], [0.5, 1.0, 0.75])
    assert out["before"] == pytest.approx(0.5)
    assert out["after"] == pytest.approx(0.75)
    assert out["change"] == pytest.approx(0.25)
    assert out["change_se"] == pytest.approx(0.25 / math.sqrt(3))


def test_paired_change_single_prompt_has_no_se():
    out = paired_change([0.2], [0.7])
    assert out["change"] == pytest.approx(0.5) and math.isnan(out["change_se"])
