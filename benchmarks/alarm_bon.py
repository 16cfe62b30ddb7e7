"""Best-of-N evidence for ALaRM on the built-in suite (gold scorers known): how often each reward composition
changes the pick of holistic-only, and whether its picks win under gold, over >= 100 held-out prompts and 3
sampling seeds.

  python benchmarks/alarm_bon.py --quick                  # 105 prompts x 3 seeds, best-of-4, 32 new tokens
  python benchmarks/alarm_bon.py --preset standard        # 105 prompts x 3 seeds, best-of-8, 48 new tokens
  python benchmarks/alarm_bon.py --quick --estimate       # samples and a rough CPU time, runs nothing
  python benchmarks/alarm_bon.py --quick --hh-rm runs/rm-hh/export   # plus HH dialogue prompts (no gold)
  python benchmarks/alarm_bon.py --render                 # docs/results.md sections from the JSON files

The holistic reward model is benchmarks/overopt.py's quick-preset Bradley-Terry RM (five suite families, the
frozen-trunk recipe; trained once, reused from runs/overopt/quick/rms/bt/). None of the prompts (suite seed 1,
15 per family, all seven families) is one of its training prompts (checked). Compositions, each under
hierarchical / holistic / weighted / aspects and "first" (no selection):

  paper-qa   configs/alarm/suite-paper.yaml: the paper's shaping (per-sentence aspects, offset-0 sigmoid, degenerate
             outputs -10) with its long-form QA numbers (threshold 0.6, w_h 5)
  paper-mt   the same with its MT numbers (threshold 0.5, w_h 3)
  event      configs/alarm/suite-short.yaml: the earlier shaping (event penalties, sigmoid offset 0.5, no penalty)

`rewardkit bon` (generation/bon.py) does the work, once per composition on the same cached samples (the holistic RM
scores them once); normalisation stats are measured on the first seed's samples. Writes
benchmarks/results/alarm_bon-<preset>.json and the preset's section of docs/results.md, and ends with one line

  alarm <preset> prompts=<int> seeds=<int> changed_picks=<float> hier_vs_holistic=<float>+-<float>

(paper-qa: the share of (prompt, seed) pairs where hierarchical picks another response than holistic-only, and
hierarchical's gold win rate over holistic-only, W / (W + L) with ties excluded, ± bootstrap SE over prompts).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

RUNS = REPO / "runs" / "alarm-bon"
METHODS = ["hierarchical", "holistic", "weighted", "aspects", "first"]
SECONDS_PER_SAMPLE_TOKEN = 0.022  # smollm2-135m, batch 64, one thread on the shared 2-core CPU (measured)


@dataclass(frozen=True)
class Preset:
    name: str
    n: int
    prompts_per_family: int
    seeds: tuple[int, ...]
    max_new_tokens: int


PRESETS = {p.name: p for p in (Preset("quick", 4, 15, (0, 1, 2), 32), Preset("standard", 8, 15, (0, 1, 2), 48))}

# name: (reward YAML, top-level overrides, description)
COMPOSITIONS: dict[str, tuple[str, dict[str, Any], str]] = {
    "paper-qa": ("configs/alarm/suite-paper.yaml", {}, "paper shaping, QA numbers (t 0.6, w_h 5)"),
    "paper-mt": (
        "configs/alarm/suite-paper.yaml",
        {"threshold": 0.5, "holistic_weight": 3.0},
        "paper shaping, MT numbers (t 0.5, w_h 3)",
    ),
    "event": ("configs/alarm/suite-short.yaml", {}, "event penalties, offset 0.5 (the earlier configs)"),
}
HEADLINE = "paper-qa"


def estimate(preset: Preset) -> dict[str, Any]:
    samples = preset.n * preset.prompts_per_family * 7 * len(preset.seeds)
    seconds = samples * preset.max_new_tokens * SECONDS_PER_SAMPLE_TOKEN
    return {"samples": samples, "sampling_minutes": round(seconds / 60, 1)}


def load_rewards(rm_path: str, out: Path) -> dict[str, Any]:
    """Every composition's RewardFunction, all sharing one holistic component (scored once per batch)."""
    from rewardkit.rewards.config import load_reward

    rewards = {}
    for name, (yaml_file, overrides, _) in COMPOSITIONS.items():
        stats = out / name / "stats.json"
        if stats.exists():
            stats.unlink()  # measured on this run's samples
        reward = load_reward(REPO / yaml_file, holistic_path=rm_path, stats_file=str(stats), **overrides)
        reward.name = name
        rewards[name] = reward
    first = next(iter(rewards.values()))
    for reward in rewards.values():
        reward.holistic = first.holistic
    return rewards


def run_preset(preset: Preset, hh_rm: str | None, hh_limit: int, command: str) -> dict[str, Any]:
    from rewardkit.generation.bon import BonConfig, BonSampling, run_bon
    from rewardkit.generation.prompts import PromptConfig, load_prompts
    from rewardkit.generation.sampling import load_policy

    started = time.time()
    rm = reward_models(["bt"])["bt"]
    trained_at = time.time()
    prompts = PromptConfig(source="suite", n_per_family=preset.prompts_per_family, seed=1)
    overlap = training_prompt_overlap(load_prompts(prompts))
    if overlap:
        raise SystemExit(f"{overlap} best-of-N prompts are reward-model training prompts: change the prompt seed")
    policy = load_policy("smollm2-135m")
    out = RUNS / preset.name
    sampling = BonSampling(max_new_tokens=preset.max_new_tokens, batch_size=64)
    compositions = {}
    for name, reward in load_rewards(rm["path"], out).items():
        at = time.time()
        config = BonConfig(
            reward=COMPOSITIONS[name][0],
            n=preset.n,
            methods=METHODS,
            output_dir=str(out / name),
            seeds=list(preset.seeds),
            prompts=prompts,
            sampling=sampling,
        )
        results = run_bon(config, reward=reward, policy=policy)
        compositions[name] = {
            "reward": COMPOSITIONS[name][0],
            "overrides": COMPOSITIONS[name][1],
            "description": COMPOSITIONS[name][2],
            **_summary(results),
            "seconds": round(time.time() - at, 1),
        }
        print(f"[{name}] {compositions[name]['seconds']:.0f} s: changed picks {results['changed_picks']}", flush=True)
    hh = run_hh(preset, hh_rm, hh_limit, policy) if hh_rm else None
    return {
        "preset": preset.name,
        "settings": preset.__dict__ | {"seeds": list(preset.seeds)},
        "command": command,
        "hardware": overopt_benchmark().hardware(),
        "created": time.strftime("%Y-%m-%d %H:%M"),
        "holistic_rm": {k: rm[k] for k in ("method", "export", "heldout_accuracy", "heldout_pairs", "seconds")},
        "prompts": len(load_prompts(prompts)),
        "policy": "smollm2-135m",
        "compositions": compositions,
        "hh": hh,
        "timings": {"reward_model": round(trained_at - started, 1)},
        "wall_seconds": round(time.time() - started, 1),
    }


def run_hh(preset: Preset, hh_rm: str, limit: int, policy: Any) -> dict[str, Any]:
    """The HH setting (configs/alarm/hh.yaml with the given HH RM; judges: the RM and the aspects, no gold)."""
    from rewardkit.generation.bon import BonConfig, BonSampling, run_bon
    from rewardkit.generation.prompts import PromptConfig

    at = time.time()
    source = REPO.parent / "shared" / "data" / "hh-rlhf" / "helpful-base" / "test.jsonl.gz"
    config = BonConfig(
        reward=str(REPO / "configs/alarm/hh.yaml"),
        holistic=hh_rm,
        n=preset.n,
        methods=METHODS,
        output_dir=str(RUNS / preset.name / "hh"),
        stats_file=str(RUNS / preset.name / "hh" / "stats.json"),
        seeds=list(preset.seeds),
        recalibrate=True,
        prompts=PromptConfig(source=str(source), limit=limit, seed=1, max_prompt_chars=1200),
        sampling=BonSampling(max_new_tokens=preset.max_new_tokens, batch_size=64),
    )
    return {**_summary(run_bon(config, policy=policy)), "seconds": round(time.time() - at, 1)}


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    return {
        k: results[k]
        for k in ("prompts", "n", "seeds", "judges", "means", "changed_picks", "degenerate", "comparisons")
    }


# ---- report ----------------------------------------------------------------------------------------------------


def _win(stats: dict[str, Any], decided: bool) -> str:
    from rewardkit.evaluation.winrate import format_win

    return format_win(stats, decided)


def section(result: dict[str, Any]) -> str:
    s, rm = result["settings"], result["holistic_rm"]
    units = result["prompts"] * len(s["seeds"])
    lines = [
        f"### Best-of-N, preset `{result['preset']}` — {result['hardware']['label']}",
        "",
        "| setting | value |",
        "|---|---|",
        f"| command | `{result['command']}` |",
        f"| policy | {result['policy']}, temperature 1, {s['max_new_tokens']} new tokens, best-of-{s['n']}, "
        f"sampling seeds {', '.join(map(str, s['seeds']))} |",
        f"| prompts | {result['prompts']} held-out suite prompts ({s['prompts_per_family']} per family, all 7 "
        f"families, suite seed 1; none is an RM training prompt) x {len(s['seeds'])} seeds = {units} pairs |",
        f"| holistic RM | benchmarks/overopt.py quick preset `{rm['method']}` (`{rm['export']}`), held-out "
        f"accuracy {rm['heldout_accuracy']:.3f} on {rm['heldout_pairs']} suite pairs |",
        "| judge | the suite's programmatic gold scorers (in [0, 1]) |",
        "| win rates | W / (W + L), ties excluded, and (W + T/2) / n; ± bootstrap SE over prompts (a "
        "prompt's seeds resampled together) |",
        f"| wall time | {result['wall_seconds'] / 60:.1f} min ({result['created']}); reward model "
        f"{result['timings']['reward_model']:.0f} s"
        + "".join(f", {n} {c['seconds']:.0f} s" for n, c in result["compositions"].items())
        + " |",
        "",
        "Picks that differ from holistic-only (share of prompt-seed pairs) and mean gold of the picks:",
        "",
        "| composition | hierarchical changed | weighted changed | aspects changed | degenerate samples | "
        "gold: hierarchical | holistic | weighted | aspects | first |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in result["compositions"].items():
        ch, g = c["changed_picks"], {m: row["gold"] for m, row in c["means"].items()}
        degenerate = f"{c['degenerate']['samples']:.3f}" if c.get("degenerate") else "–"
        lines.append(
            f"| {name}: {c['description']} | {ch['hierarchical']:.3f} | {ch['weighted']:.3f} | "
            f"{ch['aspects']:.3f} | {degenerate} | {g['hierarchical']:.3f} | {g['holistic']:.3f} | "
            f"{g['weighted']:.3f} | {g['aspects']:.3f} | {g['first']:.3f} |"
        )
    pairs = [
        "hierarchical vs holistic",
        "weighted vs holistic",
        "hierarchical vs weighted",
        "aspects vs holistic",
        "hierarchical vs first",
        "holistic vs first",
    ]
    lines += [
        "",
        "Gold win rates of A over B (W/T/L over prompt-seed pairs):",
        "",
        "| composition | A vs B | same pick | W / (W + L) | (W + T/2) / n |",
        "|---|---|---:|---:|---:|",
    ]
    for name, c in result["compositions"].items():
        for pair in pairs:
            row = c["comparisons"].get(pair) or _flipped(c["comparisons"], pair)
            if row is None:
                continue
            lines.append(
                f"| {name} | {pair} | {row['same_selection']} | {_win(row['gold'], True)} | "
                f"{_win(row['gold'], False)} |"
            )
    if result.get("hh"):
        hh = result["hh"]
        lines += [
            "",
            f"HH helpful-base prompts ({hh['prompts']} x {len(hh['seeds'])} seeds, configs/alarm/hh.yaml, no "
            "gold: judged by the HH RM): changed picks "
            + ", ".join(f"{m} {v:.3f}" for m, v in hh["changed_picks"].items())
            + "; hierarchical vs holistic under the "
            f"RM {_win(hh['comparisons']['hierarchical vs holistic']['holistic'], True)}.",
        ]
    return "\n".join(lines) + "\n"


def _flipped(comparisons: dict[str, Any], pair: str) -> dict[str, Any] | None:
    """The comparison 'b vs a' read as 'a vs b' (wins and losses swapped)."""
    a, b = pair.split(" vs ")
    row = comparisons.get(f"{b} vs {a}")
    if row is None:
        return None
    out: dict[str, Any] = {"same_selection": row["same_selection"]}
    for judge, stats in row.items():
        if isinstance(stats, dict):
            swapped = dict(
                stats,
                wins=stats["losses"],
                losses=stats["wins"],
                win_rate=1 - stats["win_rate"],
                decided_win_rate=1 - stats["decided_win_rate"],
            )
            out[judge] = swapped
    return out


def summary_line(result: dict[str, Any]) -> str:
    c = result["compositions"][HEADLINE]
    gold = c["comparisons"]["hierarchical vs holistic"]["gold"]
    return (
        f"alarm {result['preset']} prompts={result['prompts']} seeds={len(result['settings']['seeds'])} "
        f"changed_picks={c['changed_picks']['hierarchical']:.3f} "
        f"hier_vs_holistic={gold['decided_win_rate']:.3f}+-{gold['decided_win_rate_se']:.3f}"
    )


def render(document: Path = RESULTS_MD) -> list[str]:
    text = document.read_text() if document.exists() else "# Results\n"
    done = []
    for name in PRESETS:
        file = RESULTS / f"alarm_bon-{name}.json"
        if file.exists():
            begin = begin_marker(f"alarm-bon:{name}", "benchmarks/alarm_bon.py", relative(file))
            text = put_section(text, f"alarm-bon:{name}", section(json.loads(file.read_text())), begin)
            done.append(name)
    write_text_atomic(document, text)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None)
    parser.add_argument("--quick", action="store_true", help="the quick preset")
    parser.add_argument("--estimate", action="store_true", help="print the number of samples and a time estimate")
    parser.add_argument("--hh-rm", default=None, help="also run HH dialogue prompts with this HH reward model")
    parser.add_argument("--hh-limit", type=int, default=40)
    parser.add_argument("--render", action="store_true", help="only rewrite docs/results.md from the JSON files")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("rewardkit.generation").setLevel(logging.INFO)
    if args.render:
        print("rendered:", ", ".join(render()) or "nothing")
        return 0
    preset = PRESETS["quick" if args.quick or args.preset is None else args.preset]
    if args.estimate:
        print(f"alarm_bon {preset.name}: {json.dumps(estimate(preset))} (+ the reward model once, ~5 min, and scoring)")
        return 0
    command = ("python benchmarks/alarm_bon.py " + " ".join(sys.argv[1:])).strip()
    result = run_preset(preset, args.hh_rm, args.hh_limit, command)
    out = RESULTS / f"alarm_bon-{preset.name}.json"
    write_json_atomic(out, result, indent=1)
    render()
    print(section(result))
    print(f"results: {relative(out)}")
    print(summary_line(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
