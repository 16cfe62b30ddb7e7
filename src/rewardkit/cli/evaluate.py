"""Evaluate one or more reward models on pairwise data: accuracy (ties count as wrong and are reported),
margins, per-subset accuracy; for HaF models both the reward-head and the implicit-reward accuracy, for
DPO models the implicit reward (the reference model comes from the checkpoint's metadata or --reference).

  rewardkit eval --model runs/bt/export --data ../shared/data/hh-rlhf/helpful-base/test.jsonl.gz --limit 500
  rewardkit eval --model smollm2-135m --data suite        # the untrained base, reward head at init
"""

from __future__ import annotations

import argparse

COMMAND = "eval"
HELP = "evaluate reward models on preference pairs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", nargs="+", required=True, help="checkpoint dirs, aliases or hub ids")
    parser.add_argument("--data", nargs="+", required=True,
                        help="eval sets: 'suite', file paths or hf:org/name (format detected)")
    parser.add_argument("--format", default="auto", help="data format for all --data files (default: detect)")
    parser.add_argument("--limit", type=int, default=None, help="first N pairs of each set")
    parser.add_argument("--max-length", type=int, default=None, help="default: the model's training max length")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reference", default=None, help="reference policy for implicit rewards (DPO/HaF)")
    parser.add_argument("--output", default=None, help="directory for eval.json and eval.md")


def run(args: argparse.Namespace) -> int:
    from rewardkit.data.sources import entry_name, load_entry
    from rewardkit.evaluation.evaluate import evaluate_scorer, load_scorer, markdown_table, write_report

    sets = {}
    for spec in args.data:
        entry = spec if spec == "suite" else {"path": spec, "format": args.format, "limit": args.limit}
        pairs = load_entry(entry)
        sets[entry_name(spec)] = pairs[: args.limit] if args.limit else pairs
    results = {}
    for name in args.model:
        scorer = load_scorer(name, max_length=args.max_length, reference=args.reference)
        results[name] = evaluate_scorer(scorer, sets, batch_size=args.batch_size)
    print(markdown_table(results))
    if args.output:
        print(f"wrote {write_report(results, args.output)}")
    return 0
