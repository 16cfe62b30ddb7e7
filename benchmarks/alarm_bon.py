"""Best-of-N evidence for ALaRM: hierarchical vs holistic-only vs weighted-sum (and aspects-only, and no
selection) on the built-in suite (gold scorers known) and on HH-RLHF dialogue prompts.

  python benchmarks/alarm_bon.py --suite-rm runs/quickstart/export --hh-rm runs/rm-hh/export       # full
  python benchmarks/alarm_bon.py --suite-rm runs/quickstart/export --skip-hh --n-per-family 1 --n 4 \
      --max-new-tokens 24                                                                            # quick

Each setting runs `rewardkit bon` (generation/bon.py) with the reward YAMLs in configs/alarm/ and the given
holistic checkpoints; normalisation stats are measured on the run's own samples and written beside its
outputs (never into configs/). Generations are cached, so a re-run only re-scores. Prints, per setting, the
mean judge score of each method's selections and the pairwise win rates of hierarchical against the others,
writes benchmarks/results/alarm_bon.json, and ends with one line per setting:
  alarm_bon setting=<name> hier_vs_holistic_<judge>=<win rate> ...
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from rewardkit.files import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
HH_PROMPTS = REPO.parent / "shared" / "data" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="smollm2-135m")
    p.add_argument("--suite-reward", default=str(REPO / "configs/alarm/suite.yaml"))
    p.add_argument("--suite-rm", default="runs/quickstart/export", help="holistic RM for the suite")
    p.add_argument("--hh-reward", default=str(REPO / "configs/alarm/hh.yaml"))
    p.add_argument("--hh-rm", default="runs/rm-hh/export", help="holistic RM for HH prompts")
    p.add_argument("--hh-prompts", default=str(HH_PROMPTS))
    p.add_argument("--skip-suite", action="store_true")
    p.add_argument("--skip-hh", action="store_true")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--n-per-family", type=int, default=6, help="suite prompts per family (7 families)")
    p.add_argument("--hh-limit", type=int, default=40)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output-dir", default="runs/alarm/bench")
    p.add_argument("--results", default=str(REPO / "benchmarks/results/alarm_bon.json"))
    return p.parse_args()


def settings(args: argparse.Namespace) -> list[tuple[str, object]]:
    from rewardkit.generation.bon import BonConfig, BonSampling
    from rewardkit.generation.prompts import PromptConfig

    methods = ["hierarchical", "holistic", "weighted", "aspects", "first"]
    sampling = BonSampling(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed)
    out = []
    if not args.skip_suite:
        out.append(("suite", BonConfig(
            reward=args.suite_reward, holistic=args.suite_rm, policy=args.policy, n=args.n, methods=methods,
            output_dir=f"{args.output_dir}/suite", stats_file=f"{args.output_dir}/suite/stats.json",
            prompts=PromptConfig(source="suite", n_per_family=args.n_per_family, seed=1), sampling=sampling)))
    if not args.skip_hh:
        out.append(("hh", BonConfig(
            reward=args.hh_reward, holistic=args.hh_rm, policy=args.policy, n=args.n, methods=methods,
            output_dir=f"{args.output_dir}/hh", stats_file=f"{args.output_dir}/hh/stats.json",
            prompts=PromptConfig(source=args.hh_prompts, limit=args.hh_limit, seed=1, max_prompt_chars=1200),
            sampling=sampling)))
    return out


def summary_line(name: str, results: dict) -> str:
    parts = [f"alarm_bon setting={name}"]
    for other in ("holistic", "weighted"):
        row = results["comparisons"].get(f"hierarchical vs {other}", {})
        for judge in results["judges"]:
            if judge in row:
                parts.append(f"hier_vs_{other}_{judge.replace(' ', '_')}={row[judge]['win_rate']:.3f}")
    return " ".join(parts)


def main() -> int:
    from rewardkit.generation.bon import markdown_report, run_bon
    from rewardkit.generation.sampling import load_policy

    args = parse_args()
    policy = load_policy(args.policy)
    report: dict = {"platform": platform.platform(), "policy": args.policy, "n": args.n, "settings": {}}
    lines = []
    for name, config in settings(args):
        started = time.time()
        results = run_bon(config, policy=policy)
        results["seconds"] = round(time.time() - started, 1)
        report["settings"][name] = {k: results[k] for k in ("reward", "prompts", "n", "judges", "means",
                                                            "comparisons", "seconds")}
        holistic = config.holistic  # committed: an absolute path is written relative to the repository
        report["settings"][name]["holistic_rm"] = (os.path.relpath(holistic, REPO) if os.path.isabs(holistic)
                                                   else holistic)
        print(f"\n## {name} ({results['seconds']} s)\n")
        print(markdown_report(results))
        lines.append(summary_line(name, results))
    out = Path(args.results)
    write_json_atomic(out, report)
    print(f"results: {out}")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
