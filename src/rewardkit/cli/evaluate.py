"""Evaluate one or more reward models on pairwise data: accuracy (ties count as wrong and are reported),
margins, per-subset accuracy; for HaF models both the reward-head and the implicit-reward accuracy, for
DPO models the implicit reward (the reference model comes from the checkpoint's metadata or --reference).
Reward-scale diagnostics: margin mean/std/max, the correlation of the margin with the prior similarity of
the two responses (--prior), and Spearman / Kendall tau-b between margins and graded preference strength
where the data has it (PandaLM agreement, summarize-from-feedback confidence, score differences).

  rewardkit eval --model runs/bt/export --data ../shared/data/hh-rlhf/helpful-base/test.jsonl.gz --limit 500
  rewardkit eval --model trl-rm-checkpoint --data suite   # TRL / OpenRLHF / LLaMA-Factory RMs load with their heads
  rewardkit eval --model runs/bt/export runs/pcrm/export --data ../shared/data/pandalm-testset/testset-v1.json \
      --prior cosine --plot runs/margin_vs_similarity.png

Suites (docs/evaluation.md): named sets of real data under a data root (--data-root, $REWARDKIT_DATA, or
../shared/data), evaluated side by side into a markdown report with PNG charts and JSON (--output DIR).
Pairs that occur in a checkpoint's training data (recorded in its rewardkit.json) or in --exclude-train
files are removed from every set first, and counted.

  rewardkit eval --suite standard --model runs/bt/export runs/haf/export --limit 300 --output runs/suite
  rewardkit eval --suite my_suite.yaml --model runs/bt/export --sets hh-helpful my-set --output runs/mine
"""

from __future__ import annotations

import argparse

COMMAND = "eval"
HELP = "evaluate reward models on preference pairs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", nargs="+", required=True, help="checkpoint dirs, aliases or hub ids")
    parser.add_argument(
        "--data", nargs="+", default=None, help="eval sets: 'suite', file paths or hf:org/name (format detected)"
    )
    parser.add_argument(
        "--suite", default=None, help="instead of --data: a named eval suite ('standard') or a suite YAML file"
    )
    parser.add_argument(
        "--data-root", default=None, help="--suite: root of the data (default: $REWARDKIT_DATA or ../shared/data)"
    )
    parser.add_argument("--sets", nargs="+", default=None, help="--suite: only these sets")
    parser.add_argument(
        "--exclude-train",
        nargs="+",
        default=[],
        metavar="FILE",
        help="--suite: remove pairs of these training files from every set (by content hash)",
    )
    parser.add_argument("--format", default="auto", help="data format for all --data files (default: detect)")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="first N pairs of each set (--suite: a seeded sample of N, stratified by subset)",
    )
    parser.add_argument("--max-length", type=int, default=None, help="default: the model's training max length")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per scoring batch (default: 16)")
    parser.add_argument("--reference", default=None, help="reference policy for implicit rewards (DPO/HaF)")
    parser.add_argument("--output", default=None, help="directory for eval.json and eval.md")
    parser.add_argument(
        "--prior",
        default="length",
        choices=["length", "cosine", "none"],
        help="similarity the margins are correlated with (default: length ratio)",
    )
    parser.add_argument("--embedder", default="all-minilm-l6-v2", help="sentence embedder for --prior cosine")
    parser.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="write a margin-vs-similarity scatter of every --model and set to this file",
    )


def run(args: argparse.Namespace) -> int:
    from rewardkit.data.sources import entry_name, load_entry
    from rewardkit.evaluation.evaluate import evaluate_set, load_scorer, markdown_table, write_report
    from rewardkit.models.embedder import prior_embedder

    prior = None if args.prior == "none" else args.prior
    if args.plot and prior is None:
        raise SystemExit("--plot needs a similarity: use --prior length or --prior cosine")
    if (args.data is None) == (args.suite is None):
        raise SystemExit("give either --data or --suite")
    embedder = prior_embedder(args.embedder) if prior == "cosine" else None
    if args.suite:
        return run_suite(args, prior, embedder)

    sets = {}
    for spec in args.data:
        entry = spec if spec == "suite" else {"path": spec, "format": args.format, "limit": args.limit}
        pairs = load_entry(entry)
        sets[entry_name(spec)] = pairs[: args.limit] if args.limit else pairs
    results, points, primaries = {}, {}, set()
    for name in args.model:
        scorer = load_scorer(name, max_length=args.max_length, reference=args.reference)
        primaries.add(scorer.primary)
        results[name] = {}
        for set_name, pairs in sets.items():
            results[name][set_name], points[f"{name} / {set_name}"] = evaluate_set(
                scorer, pairs, name=set_name, batch_size=args.batch_size, prior=prior, embedder=embedder
            )
    print(markdown_table(results))
    if args.output:
        print(f"wrote {write_report(results, args.output)}")
    if args.plot:
        print(f"wrote {margin_plot(points, args.plot, prior, 'policy' if primaries == {'implicit'} else 'reward')}")
    return 0


def run_suite(args: argparse.Namespace, prior: str | None, embedder: object) -> int:
    """--suite: every --model on every set of the suite, one side-by-side report."""
    from rewardkit.data.sources import load_entries
    from rewardkit.evaluation.evaluate import load_scorer
    from rewardkit.evaluation.report import render_markdown, suite_results, write_suite_report
    from rewardkit.evaluation.suites import (
        checkpoint_training_pairs,
        evaluate_suite,
        get_suite,
        load_suite,
        resolve_data_root,
    )

    suite = get_suite(args.suite)
    root = resolve_data_root(args.data_root)
    exclude = checkpoint_training_pairs(args.model) + load_entries(args.exclude_train)
    sets = load_suite(suite, root, limit=args.limit, only=args.sets, exclude=exclude)
    evaluations = {}
    for name in args.model:
        scorer = load_scorer(name, max_length=args.max_length, reference=args.reference)
        evaluations[name] = evaluate_suite(
            scorer, sets, batch_size=args.batch_size, prior=prior, embedder=embedder, reference_name=args.reference
        )
    results = suite_results(evaluations, sets, suite=suite.name, data_root=root)
    print(render_markdown(results))
    if args.output:
        print(f"wrote {write_suite_report(results, args.output)}")
    return 0


def margin_plot(points: dict, path: str, prior: str, form: str) -> str:
    """The scatter, with the PCRM optimum delta*/2 of the prior's default bound for reference."""
    from rewardkit.data.priors import resolve_bound_params
    from rewardkit.evaluation.plots import plot_margin_vs_similarity

    label = {"length": "length ratio s", "cosine": f"cosine similarity s ({form} form)"}[prior]
    return str(plot_margin_vs_similarity(points, path, similarity_label=label, bound=resolve_bound_params(prior, form)))
