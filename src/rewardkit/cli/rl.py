"""RL with TRL's GRPO or RLOO trainer on any rewardkit reward (hierarchical, holistic, weighted, aspects),
LoRA on the policy. Scores the policy's greedy responses on held-out prompts before and after (gold
scorer on suite prompts, else the holistic RM; --eval-reward) and ends with one line:

  rl before=<float> after=<float> reward=<name>

The reward is sequence level: token-level aspect rewards are summed (the paper's PPO places them on tokens;
TRL 1.16 has no PPO). The papers' settings: --kl-coef (KL to the initial policy, default 0.1; --kl-target makes
it adaptive), --scale-rewards none|group|batch (auto: none for reward-model rewards) and --reward-clip C
(rewards clipped to [-C, C]; PCRM: 5). rl.json holds the per-step series (reward, KL, ...) and config.yaml the
run's config. Every --track-every steps (default: about 8 times per run; 0: off) it records the KL to the initial
policy and the held-out score of sampled responses in rl.json ("tracking"), for `rewardkit overopt --rl-runs DIR`.

  rewardkit rl --config configs/alarm/rl-cpu-demo.yaml                      # CPU demo, < 15 minutes
  rewardkit rl --config configs/alarm/rl-cpu-demo.yaml --combine holistic --output-dir runs/rl-holistic
"""

from __future__ import annotations

import argparse

HELP = "GRPO / RLOO policy optimisation (TRL, LoRA) with a rewardkit reward"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.generation.rl import RLConfig

    add_config_flags(parser, RLConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.config import load_config
    from rewardkit.generation.rl import RLConfig, run_rl

    config = load_config(RLConfig, args)
    results = run_rl(config)
    print(
        f"rl before={results['before']:.4f} after={results['after']:.4f} reward={results['reward']}"
        f"/{results['combine']} score={results['score']} seconds={int(results['seconds'])}"
    )
    return 0
