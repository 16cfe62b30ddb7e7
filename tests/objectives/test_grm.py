"""GRM's reference-free policy terms (Yang et al. 2024), TRL's IPO length normalisation and the PCRM
bound-reached metric, against values computed by hand (softplus(-x) = -log sigmoid(x))."""

import math

import pytest
import torch

from rewardkit.objectives.losses import policy_preference_loss, reference_free_margin, sft_loss
from rewardkit.objectives.objective import Objective, ObjectiveConfig

REWARDS = torch.tensor([1.0, 0.5, 0.0, 1.5], dtype=torch.float64)  # chosen (1.0, 0.5), rejected (0.0, 1.5)
LOGPS = torch.tensor([-20.0, -10.0, -24.0, -9.0], dtype=torch.float64)  # chosen (-20, -10), rejected (-24, -9)


def test_sft_loss_by_hand():
    # -log sig(0.1 * -20) = log(1 + e^2) = 2.1269280110429727
    assert sft_loss(torch.tensor([-20.0], dtype=torch.float64), 0.1).item() == pytest.approx(
        2.1269280110429727, abs=1e-12
    )
    # far from saturation it is beta * NLL: -log sig(-30) = 30.000000000000092
    assert sft_loss(torch.tensor([-300.0], dtype=torch.float64), 0.1).item() == pytest.approx(30.0, abs=1e-9)


def test_dpo_noref_by_hand():
    h = reference_free_margin(torch.tensor([-10.0]), torch.tensor([-14.0]))
    assert h.item() == 4.0
    # -log sig(0.1 * 4) = 0.5130152523999526, the sigmoid loss on the reference-free margin
    assert policy_preference_loss(h, 0.1, "dpo_noref").item() == pytest.approx(0.5130152523999526, abs=1e-7)


def test_grm_sft_objective_by_hand():
    obj = Objective(ObjectiveConfig(objective="haf", policy_loss="sft", alpha=0.01, beta=0.1))
    assert obj.needs_logps and not obj.needs_reference
    out = obj(REWARDS, LOGPS, None, {})  # no reference log-probs needed
    # BT: mean(-log sig(1), -log sig(-1)) = mean(0.31326168751822286, 1.3132616875182228) = 0.8132616875182228
    # SFT on chosen log-probs (-20, -10): mean(log(1 + e^2), log(1 + e^1)) = mean(2.1269280110429727,
    # 1.3132616875182228) = 1.7200948492805978
    assert out.loss.item() == pytest.approx(0.8132616875182228 + 0.01 * 1.7200948492805978, abs=1e-12)
    assert out.per_pair["loss_policy"].tolist() == pytest.approx([2.1269280110429727, 1.3132616875182228])
    # the logged implicit margin is the reference-free one: 0.1 * ((-20 + 24), (-10 + 9))
    assert out.per_pair["implicit_margin"].tolist() == pytest.approx([0.4, -0.1])


def test_grm_dpo_noref_objective_by_hand():
    obj = Objective(ObjectiveConfig(objective="haf", policy_loss="dpo_noref", alpha=0.01, beta=0.1))
    assert not obj.needs_reference
    out = obj(REWARDS, LOGPS, None, {})
    # -log sig(0.4) = 0.5130152523999526, -log sig(-0.1) = 0.7443966600735709
    assert out.per_pair["loss_policy"].tolist() == pytest.approx([0.5130152523999526, 0.7443966600735709])
    assert out.loss.item() == pytest.approx(
        0.8132616875182228 + 0.01 * (0.5130152523999526 + 0.7443966600735709) / 2, abs=1e-12
    )


def test_sft_needs_a_reward_term():
    with pytest.raises(ValueError, match="objective=haf"):
        ObjectiveConfig(objective="dpo", policy_loss="sft")
    assert Objective(ObjectiveConfig(objective="dpo", policy_loss="dpo_noref")).needs_reference is False
    assert Objective(ObjectiveConfig(objective="haf")).needs_reference is True


def test_ipo_normalize_by_hand():
    # chosen: log pi -10, ref -12 over 5 response tokens; rejected: log pi -20, ref -18 over 10 tokens
    logps = torch.tensor([-10.0, -20.0], dtype=torch.float64)
    ref = torch.tensor([-12.0, -18.0], dtype=torch.float64)
    batch = {"logp_seq": torch.tensor([0] * 5 + [1] * 10)}
    summed = Objective(ObjectiveConfig(objective="dpo", policy_loss="ipo", beta=0.1))(None, logps, ref, batch)
    # h = (-10 + 12) - (-20 + 18) = 4: (4 - 5)^2 = 1
    assert summed.loss.item() == pytest.approx(1.0)
    normalized = Objective(ObjectiveConfig(objective="dpo", policy_loss="ipo", beta=0.1, ipo_normalize=True))
    out = normalized(None, logps, ref, batch)
    # h = 2/5 - (-2/10) = 0.6: (0.6 - 5)^2 = 19.36
    assert out.loss.item() == pytest.approx(19.36)
    assert out.per_pair["logps_chosen"].tolist() == [-10.0]  # logged log-probs stay summed
    with pytest.raises(ValueError, match="logp_seq"):
        normalized(None, logps, ref, {})
    with pytest.raises(ValueError, match="ipo_normalize"):
        ObjectiveConfig(objective="dpo", ipo_normalize=True)


def test_bound_reached_and_lambda_zero_is_bt():
    batch = {"delta_reward": torch.tensor([1.5, 5.0], dtype=torch.float64)}
    pcrm = Objective(ObjectiveConfig(objective="bt", prior="fixed"))
    out = pcrm(REWARDS, None, None, batch)
    # margins (1.0, -1.0) against delta*/2 = (0.75, 2.5)
    assert out.per_pair["bound_reached"].tolist() == [1.0, 0.0]
    # -log sig(1) - log sig(0.5) and -log sig(-1) - log sig(6)
    expected = [0.31326168751822286 + 0.47407698418010663, 1.3132616875182228 + 0.0024756851377303603]
    assert out.per_pair["loss_reward"].tolist() == pytest.approx(expected, abs=1e-12)
    # lambda = 0: the bound is tracked but the loss is Bradley-Terry
    tracked = Objective(ObjectiveConfig(objective="bt", prior="fixed", prior_lambda=0.0))(REWARDS, None, None, batch)
    assert tracked.loss.item() == pytest.approx(0.8132616875182228, abs=1e-12)
    assert tracked.per_pair["bound_reached"].tolist() == [1.0, 0.0]
    policy = Objective(ObjectiveConfig(objective="dpo", prior="fixed"))
    out = policy(None, LOGPS, torch.zeros(4, dtype=torch.float64), {"delta_policy": torch.tensor([1.0, 1.0])})
    # beta * h = 0.1 * ((-20 + 24), (-10 + 9)) = (0.4, -0.1) against 0.5
    assert out.per_pair["bound_reached_policy"].tolist() == [0.0, 0.0]
    assert math.isfinite(out.loss.item())
