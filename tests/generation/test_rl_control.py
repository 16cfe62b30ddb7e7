"""The papers' RL settings: reward scaling, adaptive KL, clipping, the per-step series (hand-computed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rewardkit.generation.rl import RLTrainingConfig
from rewardkit.generation.rl_control import (
    AdaptiveKLCallback,
    adaptive_kl_update,
    resolve_scale_rewards,
    sequence_kl,
    step_series,
    uses_reward_model,
)
from rewardkit.rewards.combinators import Aspect, CombineSettings, RewardFunction
from rewardkit.rewards.gold import GoldReward
from rewardkit.rewards.metrics import build_metric
from rewardkit.rewards.model import ModelReward
from rewardkit.rewards.trl_adapter import TRLRewardFunction


def test_scale_rewards_resolution():
    assert resolve_scale_rewards("auto", "grpo", True) == "none"  # reward models keep their scale
    assert resolve_scale_rewards("auto", "grpo", False) == "group"  # TRL's default otherwise
    assert resolve_scale_rewards("auto", "rloo", False) == "none"
    assert resolve_scale_rewards("batch", "rloo", True) == "batch"
    with pytest.raises(ValueError, match="RLOO has no per-group"):
        resolve_scale_rewards("group", "rloo", True)
    with pytest.raises(ValueError, match="scale_rewards must be one of"):
        RLTrainingConfig(scale_rewards="std")
    assert uses_reward_model([ModelReward(path="x"), GoldReward()]) and not uses_reward_model([GoldReward()])


def test_config_checks():
    with pytest.raises(ValueError, match="reward_clip"):
        RLTrainingConfig(reward_clip=0.0)
    with pytest.raises(ValueError, match="adaptive KL"):
        RLTrainingConfig(kl_coef=0.0, kl_target=6.0)
    assert RLTrainingConfig().kl_coef == 0.1  # PCRM's fixed KL coefficient by default


def test_adaptive_kl_update_hand_computed():
    # e = clip(12/6 - 1, -0.2, 0.2) = 0.2; beta * (1 + 0.2 * 8 / 10) = 0.1 * 1.16
    assert adaptive_kl_update(0.1, 12.0, 6.0, 8, 10) == pytest.approx(0.116)
    assert adaptive_kl_update(0.1, 3.0, 6.0, 8, 10) == pytest.approx(0.084)  # e = -0.2 (clipped from -0.5)
    assert adaptive_kl_update(0.1, 6.6, 6.0, 8, 10) == pytest.approx(0.1 * (1 + 0.1 * 0.8))
    assert sequence_kl({"kl": 0.05, "completions/mean_length": 20.0}) == pytest.approx(1.0)
    assert sequence_kl({"completions/mean_length": 20.0}) is None


def test_adaptive_callback_records_the_coefficient_it_used():
    trainer = SimpleNamespace(beta=0.1)
    callback = AdaptiveKLCallback(target=1.0, horizon=4, completions_per_step=2)
    callback.trainer = trainer
    state = SimpleNamespace(
        global_step=1, log_history=[{"reward": 0.0, "kl": 0.1, "completions/mean_length": 20.0, "step": 1}]
    )
    callback.on_log(None, state, None, logs=dict(state.log_history[0]))
    assert state.log_history[0]["kl_coef"] == 0.1
    assert trainer.beta == pytest.approx(0.1 * (1 + 0.2 * 2 / 4))  # KL 2 > target 1: error clipped to 0.2


def test_step_series_from_trl_logs():
    history = [
        {
            "reward": 1.0,
            "reward_std": 0.5,
            "kl": 0.01,
            "completions/mean_length": 10.0,
            "step": 1,
            "rewards/r/unclipped": 1.5,
            "rewards/r/clipped_share": 0.25,
        },
        {"loss": 0.1, "step": 1},
        {
            "reward": 2.0,
            "reward_std": 0.4,
            "kl": 0.02,
            "completions/mean_length": 5.0,
            "step": 2,
            "kl_coef": 0.2,
            "rewards/r/unclipped": 2.0,
            "rewards/r/clipped_share": 0.0,
        },
        {"train_runtime": 3.0, "step": 2},
    ]
    series = step_series(history, 0.1, "r")
    assert series["step"] == [1, 2] and series["reward"] == [1.0, 2.0] and series["kl"] == [0.01, 0.02]
    assert series["kl_sequence"] == pytest.approx([0.1, 0.1]) and series["kl_coef"] == [0.1, 0.2]
    assert series["reward_unclipped"] == [1.5, 2.0] and series["clipped_share"] == [0.25, 0.0]
    assert "degenerate_share" not in series


def test_trl_adapter_clips_and_logs():
    reward = RewardFunction("len", CombineSettings("aspects"), aspects=[Aspect(build_metric("length"))])
    logged = {}
    fn = TRLRewardFunction(reward, clip=5.0)
    out = fn(
        prompts=["a", "b"],
        completions=["one two", " ".join(["w"] * 9)],
        log_metric=lambda k, v: logged.__setitem__(k, v),
    )
    assert out == [2.0, 5.0]
    assert logged["rewards/len/unclipped"] == pytest.approx(5.5) and logged["rewards/len/clipped_share"] == 0.5
    with pytest.raises(ValueError, match="clip"):
        TRLRewardFunction(reward, clip=-1.0)
