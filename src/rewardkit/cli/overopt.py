"""Over-optimisation curves (Gao et al. 2022): how the gold reward of the best-of-N pick moves as N grows, for
every reward model and reward composition, and for RL runs against the KL to the initial policy.

The policy samples --n-max responses per prompt once (cached and seeded: the same prompts and seed reuse the
samples); every --models checkpoint and --rewards YAML scores every sample (checkpoints trained with top_layers
tuning from one base share its frozen bottom layers, computed once per sample), and so does the gold scorer
(--gold: the suite's programmatic gold, or a checkpoint / reward YAML). For N = 1, 2, 4, ..., n_max the
expected proxy and gold of the best-of-N pick are exact over all N-subsets of the samples; d = sqrt(log N -
(N-1)/N); standard errors are bootstrapped over prompts. Gold and proxy gains are fitted with
R(d) = d (alpha - beta d); a reward whose gold never turns down within n_max is reported as such.
--rl-runs adds `rewardkit rl` runs (their tracked KL and held-out gold), fitted with R(d) = d (alpha - beta log d).

  rewardkit overopt --models runs/bt/export runs/haf/export --rewards configs/alarm/suite.yaml \\
      --holistic runs/bt/export --n-max 16 --n-per-family 8 --output-dir runs/overopt
  rewardkit overopt --rl-runs runs/alarm/rl-holistic runs/alarm/rl-hierarchical --output-dir runs/overopt-rl

Writes overopt.md, overopt.json, overopt.png and scores.jsonl under --output-dir; ends with one line
  overopt rewards=<int> n_max=<int> prompts=<int> seconds=<int> output=<dir>
"""

from __future__ import annotations

import argparse

HELP = "over-optimisation curves: gold vs proxy under best-of-N (exact) and RL, with Gao et al.'s fits"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.generation.overopt import OveroptConfig

    add_config_flags(parser, OveroptConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.config import load_config
    from rewardkit.evaluation.overopt_report import markdown_report
    from rewardkit.generation.overopt import OveroptConfig, run_overopt

    config = load_config(OveroptConfig, args)
    report = run_overopt(config).report
    print(markdown_report(report), end="")
    print(
        f"overopt rewards={len(report['rewards'])} n_max={config.n_max} prompts={report['prompts']} "
        f"seconds={int(report['seconds'])} output={config.output_dir}"
    )
    return 0
