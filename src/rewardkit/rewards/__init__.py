"""rewardkit.rewards: reward components (RM, offline metrics, suite gold, user callables), ALaRM's
hierarchical combinator and its baselines, aspect selection by consistency, and a TRL reward-function adapter.
See docs/alarm.md."""

from rewardkit.rewards.combinators import COMBINE_MODES, RewardFunction
from rewardkit.rewards.config import load_reward, load_reward_config
from rewardkit.rewards.trl_adapter import TRLRewardFunction

__all__ = ["COMBINE_MODES", "RewardFunction", "TRLRewardFunction", "load_reward", "load_reward_config"]
