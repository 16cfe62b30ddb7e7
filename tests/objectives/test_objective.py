"""The composed objective: which terms run, what they weigh, what they log."""

import pytest
import torch

from rewardkit.objectives.losses import bradley_terry_loss, policy_preference_loss, prior_constraint_loss
from rewardkit.objectives.objective import Objective, ObjectiveConfig

REWARDS = torch.tensor([2.0, 0.5, 1.0, 1.5])  # chosen (2.0, 0.5), rejected (1.0, 1.5)
LOGPS = torch.tensor([-10.0, -30.0, -20.0, -25.0])
REF = torch.tensor([-12.0, -28.0, -18.0, -26.0])


def test_bt_uses_only_the_reward_head():
    obj = Objective(ObjectiveConfig(objective="bt"))
    assert obj.needs_rewards and not obj.needs_logps
    out = obj(REWARDS, None, None, {})
    expected = bradley_terry_loss(torch.tensor([2.0, 0.5]), torch.tensor([1.0, 1.5])).mean()
    assert out.loss.item() == pytest.approx(expected.item())
    assert out.per_pair["accuracy"].tolist() == [1.0, 0.0]
    assert out.per_pair["margin"].tolist() == [1.0, -1.0]


def test_haf_adds_alpha_times_dpo_and_alpha_zero_is_bt():
    haf = Objective(ObjectiveConfig(objective="haf", alpha=0.2, beta=0.1))
    out = haf(REWARDS, LOGPS, REF, {})
    h = torch.tensor([(-10 + 12) - (-20 + 18), (-30 + 28) - (-25 + 26)], dtype=torch.float32)
    bt = bradley_terry_loss(torch.tensor([2.0, 0.5]), torch.tensor([1.0, 1.5])).mean()
    dpo = policy_preference_loss(h, 0.1).mean()
    assert out.loss.item() == pytest.approx((bt + 0.2 * dpo).item(), rel=1e-6)
    assert out.per_pair["implicit_accuracy"].tolist() == [1.0, 0.0]
    assert out.per_pair["implicit_margin"].tolist() == pytest.approx([0.4, -0.3])
    zero = Objective(ObjectiveConfig(objective="haf", alpha=0.0))
    assert not zero.needs_logps
    assert zero(REWARDS, None, None, {}).loss.item() == pytest.approx(bt.item())


def test_dpo_is_policy_only():
    obj = Objective(ObjectiveConfig(objective="dpo", beta=0.1))
    assert obj.needs_logps and not obj.needs_rewards
    out = obj(None, LOGPS, REF, {})
    assert "accuracy" not in out.per_pair and out.rewards is None
    assert out.loss.item() == pytest.approx(out.per_pair["loss_policy"].mean().item())


def test_margin_and_centering():
    cfg = ObjectiveConfig(objective="bt", use_margin=True, center_rewards_coefficient=0.01)
    batch = {"margin": torch.tensor([0.5, 0.0])}
    out = Objective(cfg)(REWARDS, None, None, batch)
    bt = bradley_terry_loss(torch.tensor([2.0, 0.5]), torch.tensor([1.0, 1.5]), batch["margin"])
    center = torch.tensor([9.0, 4.0])
    assert out.loss.item() == pytest.approx((bt + 0.01 * center).mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="margin"):
        Objective(cfg)(REWARDS, None, None, {})


def test_prior_constraint_replaces_the_chosen_terms():
    delta = {"delta_reward": torch.tensor([3.0, 3.0]), "delta_policy": torch.tensor([2.0, 2.0])}
    both = Objective(ObjectiveConfig(objective="haf", prior="length", prior_on="both", alpha=0.5))
    out = both(REWARDS, LOGPS, REF, delta)
    reward = prior_constraint_loss(torch.tensor([1.0, -1.0]), delta["delta_reward"]).mean()
    policy = prior_constraint_loss(0.1 * torch.tensor([4.0, -3.0]), delta["delta_policy"]).mean()
    assert out.loss.item() == pytest.approx((reward + 0.5 * policy).item(), rel=1e-6)
    dpo = Objective(ObjectiveConfig(objective="dpo", prior="cosine"))  # auto → on the policy term
    assert dpo.prior_on_policy and not dpo.prior_on_reward
    with pytest.raises(ValueError, match="prior_on"):
        Objective(ObjectiveConfig(objective="bt", prior="length", prior_on="policy"))


@pytest.mark.parametrize(
    "bad", [dict(objective="ppo"), dict(policy_loss="x"), dict(reference="x"), dict(prior="x"), dict(beta=0.0)]
)
def test_config_validation(bad):
    with pytest.raises(ValueError):
        ObjectiveConfig(**bad)
