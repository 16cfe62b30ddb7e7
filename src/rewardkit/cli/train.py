"""Train a reward model (Bradley-Terry, HaF hybrid, DPO; optional PCRM prior constraint).

Config: a YAML file (--config) and/or flags; flags win; --set reaches any key. The resolved config is
written to <output-dir>/config.yaml. Examples:

  rewardkit train --train ../shared/data/hh-rlhf/helpful-base/test.jsonl.gz --objective haf --alpha 0.2
  rewardkit train --config configs/bt.yaml --output-dir runs/bt --resume
  accelerate launch -m rewardkit.cli.main train --config configs/bt.yaml
"""

from __future__ import annotations

import argparse

HELP = "train a reward model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.training.config import RunConfig

    add_config_flags(parser, RunConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.cli._summary import print_run_summary
    from rewardkit.config import load_config
    from rewardkit.training.config import RunConfig
    from rewardkit.training.run import run_training

    results = run_training(load_config(RunConfig, args))
    print_run_summary(results)
    return 0
