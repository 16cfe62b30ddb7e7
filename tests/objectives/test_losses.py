"""Loss functions against values computed by hand (softplus(-x) = -log sigmoid(x))."""

import math

import pytest
import torch

from rewardkit.objectives.losses import (
    bradley_terry_loss,
    center_rewards_penalty,
    implicit_margin,
    policy_preference_loss,
    prior_bound,
    prior_constraint_loss,
)


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


def test_bradley_terry_by_hand():
    # r_w = 2, r_l = 1: -log sig(1) = log(1 + e^-1) = 0.31326168751822286
    assert bradley_terry_loss(t(2.0), t(1.0)).item() == pytest.approx(0.31326168751822286, abs=1e-12)
    # margin 0.5 is subtracted inside the sigmoid: -log sig(0.5) = 0.47407698418010663
    assert bradley_terry_loss(t(2.0), t(1.0), t(0.5)).item() == pytest.approx(0.47407698418010663, abs=1e-12)
    # equal rewards: log 2
    assert bradley_terry_loss(t(3.0), t(3.0)).item() == pytest.approx(math.log(2), abs=1e-12)


def test_center_penalty_by_hand():
    assert center_rewards_penalty(t(2.0), t(1.0)).item() == 9.0
    assert center_rewards_penalty(t(1.5), t(-1.5)).item() == 0.0


def test_implicit_margin_and_dpo_variants_by_hand():
    # (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l)) = (-10 + 12) - (-20 + 18) = 4
    h = implicit_margin(t(-10.0), t(-20.0), t(-12.0), t(-18.0))
    assert h.item() == 4.0
    # sigmoid, beta 0.1: -log sig(0.4) = 0.5130152523999526
    assert policy_preference_loss(h, 0.1).item() == pytest.approx(0.5130152523999526, abs=1e-12)
    # label smoothing 0.1: 0.9 * 0.51301525 + 0.1 * (-log sig(-0.4) = 0.91301525) = 0.5530152524
    assert policy_preference_loss(h, 0.1, label_smoothing=0.1).item() == pytest.approx(0.5530152523999526, abs=1e-12)
    # IPO: (h - 1/(2 beta))^2 = (4 - 5)^2 = 1
    assert policy_preference_loss(h, 0.1, "ipo").item() == pytest.approx(1.0)
    # hinge: max(0, 1 - 0.4) = 0.6
    assert policy_preference_loss(h, 0.1, "hinge").item() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="unknown policy loss"):
        policy_preference_loss(h, 0.1, "nope")


def test_prior_bound_and_constraint_by_hand():
    # length-ratio defaults b1 = 10, b2 = 0.001, b3 = -5 at s = 0.5: 10 / 0.501 - 5 = 14.960079840319363
    assert prior_bound(t(0.5), 10, 0.001, -5).item() == pytest.approx(14.960079840319363, abs=1e-9)
    # d = 2, delta* = 6: -log sig(2) - log sig(4) = 0.14507793896078236
    assert prior_constraint_loss(t(2.0), t(6.0)).item() == pytest.approx(0.14507793896078236, abs=1e-12)
    # lambda scales only the upper-bound term
    expected = -math.log(1 / (1 + math.exp(-2))) + 0.5 * -math.log(1 / (1 + math.exp(-4)))
    assert prior_constraint_loss(t(2.0), t(6.0), 0.5).item() == pytest.approx(expected, abs=1e-12)


def test_prior_constraint_minimum_is_at_half_the_bound():
    d = torch.linspace(-5, 15, 20001, dtype=torch.float64)
    loss = prior_constraint_loss(d, torch.full_like(d, 8.0))
    assert d[loss.argmin()].item() == pytest.approx(4.0, abs=1e-3)
