"""Best-of-N: sample N responses per prompt from a policy, score them once with a reward YAML's components,
select with each combination (hierarchical, holistic, weighted, aspects; "first" = no selection) and
compare the selections pairwise, judged by the holistic RM, every aspect, the suite's gold scorer (suite
prompts) and optionally an LLM judge on an OpenAI-compatible endpoint (--judge-url; key from
$OPENAI_API_KEY or --judge-api-key-env). Generations are cached, so re-scoring never re-generates.

  rewardkit bon --reward configs/alarm/suite.yaml --n 8 --n-per-family 6 --output-dir runs/bon-suite
  rewardkit bon --config configs/alarm/bon-hh.yaml

Writes bon.md (table), bon.json and samples.jsonl under --output-dir.
"""

from __future__ import annotations

import argparse

HELP = "best-of-N selection with hierarchical / holistic / weighted rewards, compared pairwise"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.generation.bon import BonConfig

    add_config_flags(parser, BonConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.config import load_config
    from rewardkit.generation.bon import BonConfig, markdown_report, run_bon

    config = load_config(BonConfig, args)
    results = run_bon(config)
    print(markdown_report(results), end="")
    print(f"bon prompts={results['prompts']} n={results['n']} output={config.output_dir}")
    return 0
