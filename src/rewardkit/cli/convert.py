"""Convert another tool's reward model into a rewardkit export: an HF `*ForSequenceClassification` checkpoint with
the training chat template, problem_type "regression", model_max_length, reward mean / std, rewardkit.json and a
model card, which TRL, OpenRLHF, verl and pipelines load as is.

  rewardkit convert --model saves/llama3-8b/rm --output runs/llama3-rm      # LLaMA-Factory value head
  rewardkit convert --model trl-reward-checkpoint --output runs/trl-rm --max-length 1024

Sources: TRL RewardTrainer / hub `*ForSequenceClassification` checkpoints with one label, OpenRLHF reward models
(value_head_prefix, mean / std in config.json), LLaMA-Factory checkpoints (value_head.safetensors / .bin). They
also load directly (rewardkit score / eval / serve --model DIR); converting is for the tools that need the standard
layout. The rewards are unchanged; a head bias is kept in rewardkit.json (see docs/architecture.md).
"""

from __future__ import annotations

import argparse

HELP = "convert a TRL / OpenRLHF / LLaMA-Factory reward model into a rewardkit export"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the reward model checkpoint directory (or hub id) to convert")
    parser.add_argument("--output", required=True, help="directory to write the export to")
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="tokens per conversation recorded in the export (default: the tokenizer's model_max_length, else 512)",
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "bfloat16", "float16"),
        help="dtype the weights are loaded and written in (default: float32)",
    )


def run(args: argparse.Namespace) -> int:
    from rewardkit.models.convert import convert_reward_model

    out = convert_reward_model(args.model, args.output, max_length=args.max_length, dtype=args.dtype)
    print(f"converted {args.model} -> {out}")
    return 0
