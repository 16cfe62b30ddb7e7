"""rewardkit: train, evaluate and use reward models.

    import rewardkit
    results = rewardkit.train(objective="bt", max_steps=20, output_dir="runs/bt")
    rm = rewardkit.load_reward_model(results["export"])
    rm.score(["What is 2+2?"], ["4"])

The names below are imported on first use, so `import rewardkit` stays light (no torch until needed).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # training, loading, scoring, evaluation (rewardkit/api.py)
    "train": "rewardkit.api",
    "build_config": "rewardkit.api",
    "load_reward_model": "rewardkit.api",
    "LoadedRewardModel": "rewardkit.api",
    "evaluate": "rewardkit.api",
    # configs
    "RunConfig": "rewardkit.training.config",
    "DataConfig": "rewardkit.training.config",
    "TrainConfig": "rewardkit.training.config",
    "ModelConfig": "rewardkit.models.reward_model",
    "ObjectiveConfig": "rewardkit.objectives.objective",
    # reward composition (ALaRM)
    "load_reward": "rewardkit.rewards.config",
    "RewardFunction": "rewardkit.rewards.combinators",
    "combine": "rewardkit.rewards.combinators",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rewardkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
