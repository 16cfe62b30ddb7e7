"""Quickstart: train a reward model on the built-in preference suite with the default model, on CPU,
in a few minutes; evaluate it before and after on held-out pairs; export it.

Uses the packaged preset (rewardkit/configs/quickstart.yaml); any train flag overrides it.
Ends with one line:
  quickstart heldout_accuracy=<float> base_accuracy=<float> seconds=<int> export=<path>
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

HELP = "train + evaluate + export on the built-in suite (offline, CPU, minutes)"


def preset_path() -> str:
    return str(resources.files("rewardkit") / "configs" / "quickstart.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.training.config import RunConfig

    add_config_flags(parser, RunConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.cli._summary import print_run_summary
    from rewardkit.config import load_config
    from rewardkit.training.config import RunConfig
    from rewardkit.training.run import run_training

    started = time.time()
    cfg = load_config(RunConfig, args, path=args._config or preset_path())
    results = run_training(cfg)
    print_run_summary(results)
    after = results["after"]["heldout"]["accuracy"]
    before = results.get("before", {}).get("heldout", {}).get("accuracy", float("nan"))
    print(
        f"quickstart heldout_accuracy={after:.4f} base_accuracy={before:.4f} "
        f"seconds={int(time.time() - started)} export={results.get('export')}"
    )
    return 0
