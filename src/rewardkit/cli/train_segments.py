"""Train a segment-level aspect reward model (or the holistic pairwise RM) on QA-Feedback, split by question.

Aspects (Wu et al. 2023, FineGrainedRLHF): relevance (sub-sentences; Irrelevant / Redundant / Incoherent),
factuality (sentences; Wrong-Grounding / Unverifiable), completeness (the whole answer; major missing
information), and preference (the Bradley-Terry RM of the 6 pairwise labels, the QA ALaRM config's holistic
reward). The first --test-questions questions of the hash split are held out; the export under
<output-dir>/export loads with AutoModelForTokenClassification (segment aspects) or
AutoModelForSequenceClassification (preference). Examples:

  rewardkit train-segments --aspect relevance --output-dir runs/aspects/relevance
  rewardkit train-segments --aspect factuality --tuning top_layers --top-layers 4 --cache-trunk \\
      --max-length 768 --output-dir runs/aspects/factuality
  rewardkit train-segments --aspect preference --output-dir runs/aspects/holistic
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train a segment-level aspect RM (relevance / factuality / completeness) on QA-Feedback"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rewardkit.config import add_config_flags
    from rewardkit.training.segments import SegmentRunConfig

    add_config_flags(parser, SegmentRunConfig)


def run(args: argparse.Namespace) -> int:
    from rewardkit.cli._summary import print_run_summary
    from rewardkit.config import load_config
    from rewardkit.training.segments import PREFERENCE, SegmentRunConfig, run_segment_training

    cfg = load_config(SegmentRunConfig, args)
    results = run_segment_training(cfg)
    if cfg.data.aspect == PREFERENCE:
        print_run_summary(results)
        return 0
    if cfg.data.evaluate:
        print((Path(cfg.training.output_dir) / "eval.md").read_text(), end="")
    if results.get("export"):
        print(f"exported to {results['export']}")
    return 0
