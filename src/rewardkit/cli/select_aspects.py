"""Rank candidate aspects by their consistency with the holistic reward (ALaRM's reward selection).

For each prompt the policy gives a greedy and a sampled response. For each aspect of the reward YAML (plus
the suite's gold scorer as a reference row on suite prompts): the inconsistency rate (pairs where both the
holistic reward and the aspect strictly prefer a response and disagree / pairs where the holistic reward is
not tied), the coverage and the aspect's greedy-vs-sampled win rate. Lower inconsistency ranks first.

  rewardkit select-aspects --reward configs/alarm/candidates-suite.yaml --n-per-family 6

Writes aspects.md, aspects.json, aspects.png (bar chart) and responses.jsonl under --output-dir.
"""

from __future__ import annotations

import argparse

HELP = "rank candidate aspect rewards by consistency with the holistic reward"
COMMAND = "select-aspects"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.generation.selection import SelectAspectsConfig

    add_config_flags(parser, SelectAspectsConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.config import load_config
    from rewardkit.generation.selection import SelectAspectsConfig, run_select_aspects

    config = load_config(SelectAspectsConfig, args)
    result = run_select_aspects(config)
    print(result["table"], end="")
    print(f"select-aspects best={result['ranked'][0].name if result['ranked'] else None} output={result['output_dir']}")
    return 0
