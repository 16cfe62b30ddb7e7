"""RL evidence for ALaRM, PCRM and HaF-RM with the papers' RL settings: GRPO + LoRA on SmolLM2-135M with a KL term
to the initial policy and unscaled rewards, 3 training seeds per run, the held-out gold of the trained policies'
greedy responses on >= 100 suite prompts, and pairwise win rates between the trained policies.

  python benchmarks/alarm_rl.py --estimate                  # runs, and a rough CPU time, runs nothing
  python benchmarks/alarm_rl.py --max-minutes 35            # runs what fits in 35 min; rerun to continue
  python benchmarks/alarm_rl.py --only bt-raw pcrm-raw      # a subset of the runs
  python benchmarks/alarm_rl.py --render                    # the docs/results.md section from the JSON file

Runs (each with training seeds 0, 1, 2; `rewardkit rl` via generation/rl.py, reused when its rl.json exists):

  PCRM / HaF-RM claims: a reward model's raw score as the reward (configs/alarm/holistic-raw.yaml), clipped to
  +-5, fixed KL coefficient 0.1 (PCRM's RL settings), for the BT, HaF and PCRM (length prior) reward models of
  benchmarks/overopt.py's quick preset (trained once through one shared frozen trunk, reused).
  ALaRM claim: configs/alarm/suite-paper.yaml (per-sentence aspects, offset-0 sigmoid shaping, degenerate outputs
  -10, threshold 0.6, w_h 5) on the BT RM under holistic / hierarchical / weighted, with the adaptive KL controller
  (start 0.1, target 6 nats, horizon 10000, the former TRL PPOTrainer's defaults; the papers' PPO had one).

Win rates pool (prompt, seed): W / (W + L) with ties excluded and (W + T/2) / n, ± bootstrap SE over prompts.
Writes benchmarks/results/alarm_rl.json (whatever runs exist) and its docs/results.md section; ends with

  alarm_rl runs=<done>/<total> prompts=<int> seeds=<int> hier_vs_holistic=<float>+-<float> pcrm_vs_bt=<float>+-<float>
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alarm_common import (  # noqa: E402
    REPO,
    RESULTS,
    RESULTS_MD,
    begin_marker,
    overopt_benchmark,
    put_section,
    relative,
    reward_models,
    training_prompt_overlap,
)

from rewardkit.files import write_json_atomic, write_text_atomic  # noqa: E402

RUNS = REPO / "runs" / "alarm-rl"
OUT = RESULTS / "alarm_rl.json"
SEEDS = (0, 1, 2)
STEPS = 12
PROMPTS_PER_STEP = 2
GENERATIONS = 4
COMPLETION_TOKENS = 32
EVAL_PER_FAMILY = 15  # x 7 families = 105 held-out prompts
SECONDS_PER_RUN = 330  # measured on the shared 2-core CPU (training + greedy eval of the trained policy)


@dataclass(frozen=True)
class Run:
    name: str
    rm: str  # overopt quick-preset method whose export is the holistic reward model
    reward: str  # reward YAML
    combine: str | None
    description: str
    reward_clip: float | None = None
    kl_target: float | None = None


RUN_LIST = (
    Run("bt-raw", "bt", "configs/alarm/holistic-raw.yaml", None, "BT RM, raw score, clip ±5, KL 0.1", 5.0),
    Run("haf-raw", "haf", "configs/alarm/holistic-raw.yaml", None, "HaF RM, raw score, clip ±5, KL 0.1", 5.0),
    Run(
        "pcrm-raw",
        "pcrm-length",
        "configs/alarm/holistic-raw.yaml",
        None,
        "PCRM (length prior) RM, raw score, clip ±5, KL 0.1",
        5.0,
    ),
    Run(
        "alarm-holistic",
        "bt",
        "configs/alarm/suite-paper.yaml",
        "holistic",
        "BT RM z-normalised x 5, degenerate -10, adaptive KL",
        kl_target=6.0,
    ),
    Run(
        "alarm-hierarchical",
        "bt",
        "configs/alarm/suite-paper.yaml",
        "hierarchical",
        "ALaRM: + per-sentence bonuses when h >= 0.6, adaptive KL",
        kl_target=6.0,
    ),
    Run(
        "alarm-weighted",
        "bt",
        "configs/alarm/suite-paper.yaml",
        "weighted",
        "+ per-sentence bonuses always, adaptive KL",
        kl_target=6.0,
    ),
)
RUNS_BY_NAME = {r.name: r for r in RUN_LIST}
COMPARISONS = (  # (A, B, claim)
    ("alarm-hierarchical", "alarm-holistic", "ALaRM: hierarchical beats holistic-only"),
    ("alarm-hierarchical", "alarm-weighted", "ALaRM: hierarchical beats the weighted sum"),
    ("pcrm-raw", "bt-raw", "PCRM: its RM makes a better RL reward than BT's"),
    ("haf-raw", "bt-raw", "HaF-RM: its RM makes a better RL reward than BT's"),
)


def run_dir(run: Run, seed: int) -> Path:
    return RUNS / run.name / f"seed{seed}"


def rl_config(run: Run, seed: int, holistic: str) -> Any:
    from rewardkit.generation.prompts import PromptConfig
    from rewardkit.generation.rl import HeldOutPrompts, RLConfig, RLTrainingConfig
    from rewardkit.generation.rl_tracking import TrackingConfig

    out = run_dir(run, seed)
    return RLConfig(
        reward=str(REPO / run.reward),
        combine=run.combine,
        holistic=holistic,
        policy="smollm2-135m",
        stats_file=str(RUNS / run.name / "stats.json"),
        output_dir=str(out),
        eval_max_new_tokens=COMPLETION_TOKENS,
        calibration_samples=2,
        prompts=PromptConfig(source="suite", n_per_family=4, seed=11),
        eval_prompts=HeldOutPrompts(source="suite", n_per_family=EVAL_PER_FAMILY, seed=12),
        training=RLTrainingConfig(
            algorithm="grpo",
            steps=STEPS,
            prompts_per_step=PROMPTS_PER_STEP,
            num_generations=GENERATIONS,
            max_completion_length=COMPLETION_TOKENS,
            learning_rate=3e-4,
            kl_coef=0.1,
            kl_target=run.kl_target,
            scale_rewards="none",
            reward_clip=run.reward_clip,
            seed=seed,
        ),
        tracking=TrackingConfig(every=0),
    )


def run_all(runs: list[Run], max_minutes: float | None) -> dict[str, Any]:
    """Every (run, seed) without an rl.json yet, until the time budget is spent."""
    from rewardkit.generation.rl import run_rl
    from rewardkit.generation.sampling import load_policy

    started = time.time()
    rms = reward_models(sorted({r.rm for r in runs}))
    done = 0
    for seed in SEEDS:  # seed-major: every run gets its first seed before any gets a third
        for run in runs:
            if (run_dir(run, seed) / "rl.json").exists():
                continue
            if max_minutes is not None and (time.time() - started) / 60 + SECONDS_PER_RUN / 60 > max_minutes:
                print(f"time budget of {max_minutes} min reached; rerun to continue", flush=True)
                return {"reward_models": rms, "ran": done}
            print(f"[{run.name} seed {seed}] {run.description}", flush=True)
            at = time.time()
            result = run_rl(rl_config(run, seed, rms[run.rm]["path"]), policy=load_policy("smollm2-135m"))
            print(
                f"[{run.name} seed {seed}] gold {result['before']:.4f} -> {result['after']:.4f} in "
                f"{time.time() - at:.0f} s",
                flush=True,
            )
            done += 1
            gc.collect()
    return {"reward_models": rms, "ran": done}


# ---- results ----------------------------------------------------------------------------------------------------


def load_runs(runs: list[Run]) -> dict[str, dict[int, dict[str, Any]]]:
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for run in runs:
        for seed in SEEDS:
            file = run_dir(run, seed) / "rl.json"
            if file.exists():
                out.setdefault(run.name, {})[seed] = json.loads(file.read_text())
    return out


def pooled_prefs(
    a: dict[int, dict[str, Any]], b: dict[int, dict[str, Any]], key_b: str = "after_scores"
) -> np.ndarray | None:
    """(prompts, seeds) +1/0/-1 of run a's trained policy over run b's (or over the initial policy), seeds both have."""
    seeds = [s for s in SEEDS if s in a and s in b]
    if not seeds:
        return None
    return np.stack(
        [np.sign(np.asarray(a[s]["after_scores"]) - np.asarray(b[s][key_b])).astype(int) for s in seeds], axis=1
    )


def summarise(runs: list[Run], extra: dict[str, Any], command: str) -> dict[str, Any]:
    from rewardkit.evaluation.winrate import win_stats

    found = load_runs(runs)
    rows = {}
    for run in runs:
        seeds = found.get(run.name, {})
        if not seeds:
            continue
        changes = [r["change"] for r in seeds.values()]
        series = [r.get("series") or {} for r in seeds.values()]
        final_kl = [s["kl_sequence"][-1] for s in series if s.get("kl_sequence") and s["kl_sequence"][-1] is not None]
        rows[run.name] = {
            "description": run.description,
            "seeds": sorted(seeds),
            "before": float(np.mean([r["before"] for r in seeds.values()])),
            "after": float(np.mean([r["after"] for r in seeds.values()])),
            "change": float(np.mean(changes)),
            "change_se_between_seeds": float(np.std(changes, ddof=1) / math.sqrt(len(changes)))
            if len(changes) > 1
            else None,
            "vs_initial": win_stats(pooled_prefs(seeds, seeds, "before_scores")),
            "final_kl_sequence": float(np.mean(final_kl)) if final_kl else None,
            "final_kl_coef": float(np.mean([s["kl_coef"][-1] for s in series if s.get("kl_coef")])),
            "reward_first_last": [
                float(np.mean([s["reward"][0] for s in series])),
                float(np.mean([s["reward"][-1] for s in series])),
            ],
            "seconds": float(np.mean([r["seconds"] for r in seeds.values()])),
            "settings": next(iter(seeds.values())).get("settings"),
        }
    comparisons = []
    for a, b, claim in COMPARISONS:
        prefs = pooled_prefs(found.get(a, {}), found.get(b, {}))
        if prefs is not None:
            comparisons.append({"a": a, "b": b, "claim": claim, "seeds": prefs.shape[1], **win_stats(prefs)})
    any_run = next((r for seeds in found.values() for r in seeds.values()), None)
    return {
        "command": command,
        "hardware": overopt_benchmark().hardware(),
        "created": time.strftime("%Y-%m-%d %H:%M"),
        "total_runs": len(runs) * len(SEEDS),
        "done_runs": sum(len(s) for s in found.values()),
        "eval_prompts": any_run["eval_prompts"] if any_run else None,
        "train_prompts": any_run["train_prompts"] if any_run else None,
        "settings": {
            "steps": STEPS,
            "prompts_per_step": PROMPTS_PER_STEP,
            "num_generations": GENERATIONS,
            "max_completion_length": COMPLETION_TOKENS,
            "learning_rate": 3e-4,
            "seeds": list(SEEDS),
        },
        "reward_models": {
            m: {k: r[k] for k in ("export", "heldout_accuracy", "heldout_pairs")}
            for m, r in extra.get("reward_models", {}).items()
        },
        "eval_rm_training_overlap": extra.get("overlap"),
        "runs": rows,
        "comparisons": comparisons,
    }


def section(result: dict[str, Any]) -> str:
    from rewardkit.evaluation.winrate import format_win

    s = result["settings"]
    lines = [
        f"### RL (GRPO + LoRA) — {result['hardware']['label']}",
        "",
        f"`{result['command']}`; {result['done_runs']} of {result['total_runs']} runs done ({result['created']}). "
        f"SmolLM2-135M-Instruct, LoRA r 16, {s['steps']} GRPO steps of {s['prompts_per_step']} prompts x "
        f"{s['num_generations']} completions ({s['max_completion_length']} tokens), lr {s['learning_rate']:g}, "
        f"unscaled rewards, training seeds {', '.join(map(str, s['seeds']))}; {result['train_prompts']} training "
        f"prompts (suite seed 11); gold of greedy responses on {result['eval_prompts']} held-out suite prompts "
        "(suite seed 12, 15 per family).",
        "",
        "| run | reward | seeds | gold before | gold after | change (± SE over seeds) | vs initial policy, "
        "W / (W + L) | final KL (nats/seq.) | final KL coef. | train reward step 1 → last | s / run |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["runs"].items():
        se = f" ± {r['change_se_between_seeds']:.3f}" if r["change_se_between_seeds"] is not None else ""
        kl = f"{r['final_kl_sequence']:.3f}" if r["final_kl_sequence"] is not None else "–"
        lines.append(
            f"| {name} | {r['description']} | {len(r['seeds'])} | {r['before']:.3f} | {r['after']:.3f} | "
            f"{r['change']:+.3f}{se} | {format_win(r['vs_initial'])} | {kl} | {r['final_kl_coef']:.4f} | "
            f"{r['reward_first_last'][0]:.2f} → {r['reward_first_last'][1]:.2f} | {r['seconds']:.0f} |"
        )
    if result["comparisons"]:
        lines += [
            "",
            "Trained policies against each other (gold of greedy responses, pooled over prompts and the "
            "seeds both runs have; ± bootstrap SE over prompts):",
            "",
            "| claim | A vs B | seeds | W / (W + L) | (W + T/2) / n | verdict |",
            "|---|---|---:|---:|---:|---|",
        ]
        for c in result["comparisons"]:
            lines.append(
                f"| {c['claim']} | {c['a']} vs {c['b']} | {c['seeds']} | {format_win(c)} | "
                f"{format_win(c, decided=False)} | {verdict(c)} |"
            )
    return "\n".join(lines) + "\n"


def verdict(c: dict[str, Any]) -> str:
    """supported / contradicted when the decided win rate is more than 2 SE from 0.5, else inconclusive."""
    rate, se = c["decided_win_rate"], c["decided_win_rate_se"]
    if not (math.isfinite(rate) and math.isfinite(se)):
        return "inconclusive (no SE)"
    if rate - 2 * se > 0.5:
        return "supported"
    if rate + 2 * se < 0.5:
        return "contradicted"
    return "inconclusive (within 2 SE of 0.5)"


def render(document: Path = RESULTS_MD) -> bool:
    if not OUT.exists():
        return False
    text = document.read_text() if document.exists() else "# Results\n"
    begin = begin_marker("alarm-rl", "benchmarks/alarm_rl.py", relative(OUT))
    write_text_atomic(document, put_section(text, "alarm-rl", section(json.loads(OUT.read_text())), begin))
    return True


def summary_line(result: dict[str, Any]) -> str:
    def rate(a: str, b: str) -> str:
        c = next((c for c in result["comparisons"] if (c["a"], c["b"]) == (a, b)), None)
        return f"{c['decided_win_rate']:.3f}+-{c['decided_win_rate_se']:.3f}" if c else "nan+-nan"

    return (
        f"alarm_rl runs={result['done_runs']}/{result['total_runs']} prompts={result['eval_prompts']} "
        f"seeds={len(SEEDS)} hier_vs_holistic={rate('alarm-hierarchical', 'alarm-holistic')} "
        f"pcrm_vs_bt={rate('pcrm-raw', 'bt-raw')}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="RUN", choices=sorted(RUNS_BY_NAME), help="a subset of the runs")
    parser.add_argument("--max-minutes", type=float, default=None, help="start no run past this many minutes")
    parser.add_argument("--estimate", action="store_true")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("rewardkit.generation").setLevel(logging.INFO)
    if args.render:
        print("rendered" if render() else f"nothing to render ({relative(OUT)} missing)")
        return 0
    runs = [RUNS_BY_NAME[n] for n in args.only] if args.only else list(RUN_LIST)
    missing = [(r.name, s) for s in SEEDS for r in runs if not (run_dir(r, s) / "rl.json").exists()]
    if args.estimate:
        print(
            f"alarm_rl: {len(missing)} of {len(runs) * len(SEEDS)} runs to do, about "
            f"{len(missing) * SECONDS_PER_RUN / 60:.0f} min (+ reward models the first time, ~5 min each)"
        )
        return 0
    from rewardkit.generation.prompts import PromptConfig, load_prompts

    eval_items = load_prompts(PromptConfig(source="suite", n_per_family=EVAL_PER_FAMILY, seed=12))
    extra = run_all(runs, args.max_minutes)
    extra["overlap"] = training_prompt_overlap(eval_items)
    command = ("python benchmarks/alarm_rl.py " + " ".join(sys.argv[1:])).strip()
    result = summarise(list(RUN_LIST), extra, command)
    write_json_atomic(OUT, result, indent=1)
    render()
    print(section(result))
    print(summary_line(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
