"""Method benchmark: BT, DPO, HaF, PCRM (length), PCRM (cosine) and HaF+PCRM trained from the same base model
with the same data, budget and seeds, checkpoints selected on a validation split carved from the training
data, all evaluated on the same pairs of the standard eval suite (evaluation/suites.py).

  python benchmarks/methods.py --quick                 # = --preset quick: a smoke run (< 20 min, 2-core CPU)
  python benchmarks/methods.py --preset hh1k           # HaF / PCRM issues: 1k HH pairs, 2 seeds (CPU)
  python benchmarks/methods.py --preset standard       # the method benchmark (CPU, long: see --estimate)
  python benchmarks/methods.py --preset standard --time-limit 150   # ... as much of it as fits in 150 min
  python benchmarks/methods.py --preset session        # the same methods and suite sized for one 3-hour CPU sitting
  python benchmarks/methods.py --preset gpu            # the same on a GPU with a larger budget
  python benchmarks/methods.py --estimate              # predicted wall time of every preset, from token counts
  python benchmarks/methods.py --estimate --measure    # ... with per-token costs measured on this machine now
  python benchmarks/methods.py --render                # regenerate docs/results.md from the JSON files present
  python benchmarks/methods.py --preset evidence --time-limit 45   # the method evidence, one sitting at a time
  python benchmarks/methods.py --preset evidence --estimate        # its predicted wall time, per scenario
  python benchmarks/methods.py --claims                # the papers' claims tested on the committed evidence records
  python benchmarks/methods.py --claims --encoding appended_eos   # ... on the records of the old encoding

The `evidence` preset (methodbench/evidence.py) is built differently: scenarios (data + arms + scope) that can
show the papers' effects, its runs recorded under benchmarks/results/records/evidence/, its hypotheses in
methodbench/claims.py; `--claims` reads only the committed records and prints one line per hypothesis,
`claim <id> diff=<float> se=<float> mde=<float> verdict=<confirmed|contradicted|undetectable>` (or `pending`),
then `claims n=<int> confirmed=<int> contradicted=<int> undetectable=<int>`. Records name their encoding (where the
reward is read): the runs of the first sitting, made before the chat-template contract (reward at an EOS appended
to the bare response, `appended_eos`), are kept under benchmarks/results/records/evidence-appended-eos/ and never
pooled with the current ones (`conversation_end`); `--claims --encoding appended_eos` tests the claims on them.

Presets (PRESETS below) fix data, budget, methods, seeds and eval-set sizes. Every run writes
runs/methods/<preset>/<method>-s<seed>/benchmark_run.json; a rerun reuses the runs whose settings are
unchanged, so a killed benchmark continues where it stopped. Presets too long for one sitting (standard, gpu)
also keep each finished run's record under benchmarks/results/records/<preset>/ (small JSON, committed), so the
same command continues on another machine; `--time-limit MINUTES` starts no run predicted to end past the limit
and writes the results of the runs done so far, marked partial. Results: benchmarks/results/methods-<preset>.json,
and the preset's section of docs/results.md (between its BEGIN/END markers; the rest of the file is kept)
with charts under docs/results/methods-<preset>/. The last printed line is

  methods <preset> best=<method> <set>=<accuracy> ... mean=<accuracy>

(the method with the best mean accuracy over the eval sets, and its accuracy per set, mean over seeds).

The code is the package benchmarks/methodbench/: presets.py (what is compared), costs.py (wall-time estimate),
machine.py (speed probe, hardware), runner.py (runs and their records), report.py (aggregation, claims, docs);
evidence.py, evidence_runner.py, claims.py and evidence_report.py for the evidence preset; this file is the
command line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the methodbench package next to this file

from methodbench.claims import check_all, claim_lines  # noqa: E402
from methodbench.costs import (  # noqa: E402
    CostModel,
    estimate_evidence,
    measure_costs,
    print_estimates,
    print_evidence_estimate,
)
from methodbench.evidence import (  # noqa: E402
    EVIDENCE,
    EVIDENCE_GPU,
    EVIDENCE_RECORDS,
    LEGACY_RECORDS,
    RECORDS_GPU,
    RUN_ORDER,
    SCENARIO_ORDER,
    SCENARIOS,
    gpu_variant,
    with_seeds,
)
from methodbench.evidence_report import append_sitting, records_label, render_evidence  # noqa: E402
from methodbench.evidence_runner import run_evidence  # noqa: E402
from methodbench.presets import (  # noqa: E402
    ENCODING,
    ENCODING_TEXT,
    LEGACY_ENCODING,
    METHODS,
    PRESET_ORDER,
    PRESETS,
    RECORDS,
    RESULTS,
    RESULTS_MD,
    RUNS,
    duration,
)
from methodbench.report import best_line, print_summary, render_docs  # noqa: E402
from methodbench.runner import run_preset  # noqa: E402

from rewardkit.files import write_json_atomic  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS) + [EVIDENCE, EVIDENCE_GPU], default=None)
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=SCENARIO_ORDER,
        default=None,
        help="evidence: only these scenarios, in this order (default: all, by what the claims need most)",
    )
    parser.add_argument(
        "--claims",
        action="store_true",
        help="test the papers' claims on the committed evidence records (no training) and exit",
    )
    parser.add_argument(
        "--encoding",
        choices=sorted(ENCODING_TEXT),
        default=ENCODING,
        help=f"--claims: the records of this encoding (default {ENCODING}, the one runs use now; "
        f"{LEGACY_ENCODING}: the records made before the chat-template contract, kept apart)",
    )
    parser.add_argument("--quick", action="store_true", help="= --preset quick")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=None, help="override the preset's")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="override the preset's")
    parser.add_argument("--model", default=None, help="override the base model (alias, directory)")
    parser.add_argument("--data-root", default=None, help="default: $REWARDKIT_DATA or ../shared/data")
    parser.add_argument("--runs-dir", default=None, help="default: runs/methods/<preset>")
    parser.add_argument("--results-dir", default=str(RESULTS))
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="start no run predicted to end past this many minutes; write the results so far",
    )
    parser.add_argument(
        "--records-dir",
        default=None,
        help="also keep / reuse run records here (default for standard and gpu: "
        "benchmarks/results/records/<preset>; 'none' to disable)",
    )
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep training checkpoints (exports are kept)")
    parser.add_argument("--no-docs", action="store_true", help="do not regenerate docs/results.md")
    parser.add_argument("--estimate", action="store_true", help="print predicted wall times instead of running")
    parser.add_argument("--forward-ms", type=float, default=CostModel.forward_ms, help="--estimate: ms/token forward")
    parser.add_argument(
        "--train-ms",
        type=float,
        default=CostModel.full_train_ms,
        help="--estimate: ms/token full fine-tuning (forward + backward)",
    )
    parser.add_argument(
        "--measure",
        action="store_true",
        help="--estimate: measure the per-token costs on this machine now (about a minute)",
    )
    parser.add_argument("--render", action="store_true", help="only regenerate docs/results.md from the JSON files")
    args = parser.parse_args(argv)
    if args.quick:
        if args.preset not in (None, "quick"):
            parser.error("--quick and --preset disagree")
        args.preset = "quick"
    if not (args.preset or args.estimate or args.render or args.claims):
        parser.error("give --preset NAME, --quick, --estimate, --render or --claims")
    if args.encoding != ENCODING and not args.claims:
        parser.error(f"--encoding {args.encoding} only reads records (--claims): runs train with {ENCODING}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from rewardkit.evaluation.suites import resolve_data_root

    if args.claims:
        for line in claims_output(args):
            print(line)
        return 0
    if args.render:
        print("rendered presets:", ", ".join(render_docs(Path(args.results_dir))) or "none")
        render_evidence()
        return 0
    root = resolve_data_root(args.data_root)
    if args.preset in (EVIDENCE, EVIDENCE_GPU):
        return run_evidence_preset(args, root, argv)
    overrides: dict[str, Any] = {}
    if args.methods:
        overrides["methods"] = tuple(args.methods)
    if args.seeds:
        overrides["seeds"] = tuple(args.seeds)
    if args.model:
        overrides["model"] = args.model
    if args.estimate:
        names = [args.preset] if args.preset else [p for p in PRESET_ORDER if PRESETS[p].hardware == "cpu"]
        presets = [replace(PRESETS[n], **overrides) for n in names]
        costs = CostModel(forward_ms=args.forward_ms, full_train_ms=args.train_ms)
        if args.measure:
            costs = measure_costs(presets[0], root)
        print_estimates(presets, root, costs)
        return 0
    preset = replace(PRESETS[args.preset], **overrides)
    runs_dir = Path(args.runs_dir) if args.runs_dir else RUNS / preset.name
    command = "python benchmarks/methods.py " + " ".join(sys.argv[1:] if argv is None else argv)
    records_dir = (
        None
        if args.records_dir == "none"
        else Path(args.records_dir)
        if args.records_dir
        else RECORDS / preset.name
        if preset.shared_records
        else None
    )
    result = run_preset(preset, root, runs_dir, args.keep_checkpoints, command.strip(), records_dir, args.time_limit)
    results_dir = Path(args.results_dir)
    out = write_json_atomic(results_dir / f"methods-{preset.name}.json", result, indent=1, default=str)
    print(f"wrote {out}")
    if not args.no_docs:
        render_docs(results_dir)
        print(f"wrote {RESULTS_MD}")
    print_summary(result)
    print(best_line(preset.name, result["summary"]), flush=True)
    return 0


def records_dir_for(preset: str | None, encoding: str) -> Path:
    if encoding == LEGACY_ENCODING:
        if preset == EVIDENCE_GPU:
            raise SystemExit(f"{EVIDENCE_GPU} has no records of the {LEGACY_ENCODING} encoding")
        return LEGACY_RECORDS
    return RECORDS_GPU if preset == EVIDENCE_GPU else EVIDENCE_RECORDS


def record_count(records_dir: Path) -> int:
    return len(list(records_dir.glob("*/*-s*.json")))


def claims_output(args: argparse.Namespace) -> list[str]:
    """--claims: which records (and their encoding) are read, the other encoding's records if there are any
    (never pooled), then one line per hypothesis and the counts."""
    records_dir = records_dir_for(args.preset, args.encoding)
    lines = [
        f"records {records_label(records_dir)} encoding={args.encoding} runs={record_count(records_dir)} "
        f"({ENCODING_TEXT[args.encoding]})"
    ]
    other = LEGACY_ENCODING if args.encoding == ENCODING else ENCODING
    other_dir = records_dir_for(None, other)
    if args.preset != EVIDENCE_GPU and record_count(other_dir):
        lines.append(
            f"not pooled: {record_count(other_dir)} runs of encoding={other} under "
            f"{records_label(other_dir)} (--claims --encoding {other})"
        )
    return lines + claim_lines(check_all(records_dir, encoding=args.encoding))


def run_evidence_preset(args: argparse.Namespace, root: Path, argv: list[str] | None) -> int:
    """--preset evidence (or evidence-gpu): estimate, or run what is not recorded yet (within --time-limit), then
    docs and claims."""
    gpu = args.preset == EVIDENCE_GPU
    names = args.scenarios or list(RUN_ORDER)
    scenarios = [with_seeds(SCENARIOS[n], tuple(args.seeds) if args.seeds else None) for n in names]
    scenarios = [gpu_variant(s) for s in scenarios] if gpu else scenarios
    records_dir = RECORDS_GPU if gpu else EVIDENCE_RECORDS
    model = args.model or "smollm2-135m"
    costs = CostModel(forward_ms=args.forward_ms, full_train_ms=args.train_ms)
    if args.estimate:
        print_evidence_estimate(estimate_evidence(scenarios, root, costs, model))
        return 0
    runs_dir = Path(args.runs_dir) if args.runs_dir else RUNS / args.preset
    command = "python benchmarks/methods.py " + " ".join(sys.argv[1:] if argv is None else argv)
    summary = run_evidence(
        scenarios,
        root,
        runs_dir,
        model,
        command.strip(),
        records_dir=records_dir,
        time_limit_minutes=args.time_limit,
        costs=costs,
    )
    if summary["ran"] and not gpu:
        append_sitting(summary)
    if not args.no_docs and not gpu:
        render_evidence()
        print(f"wrote {RESULTS_MD}")
    print(
        f"{args.preset}: {len(summary['ran'])} runs trained, {summary['reused']} reused, "
        f"{len(summary['pending'])} pending; wall time {duration(summary['wall_seconds'])}"
    )
    for line in claim_lines(check_all(records_dir)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
