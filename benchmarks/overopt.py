"""Over-optimisation benchmark: how far best-of-N (and, in the standard preset, RL) can push each reward model and
reward composition before the suite's programmatic gold reward falls.

  python benchmarks/overopt.py --quick                 # = --preset quick: < 15 min on 2 CPU cores, fresh machine
  python benchmarks/overopt.py --preset standard       # larger: more pairs, prompts, n_max 64, and RL runs
  python benchmarks/overopt.py --quick --rewards bt haf   # a subset of the preset's reward models
  python benchmarks/overopt.py --render                # docs/results.md sections from the JSON files present

1. Reward models from one base model (top layers trained, the frozen bottom layers computed once per pair and
   shared by all methods through the frozen-trunk cache) on the suite's *trained* families: BT, HaF, PCRM
   (length prior) and DPO (its implicit reward); `METHODS` holds their objectives (add GRM there once
   objectives/ has it). Held-out accuracy on suite pairs picks the best holistic RM.
2. ALaRM compositions (configs/alarm/suite-short.yaml: the repetition and spelling aspects of suite.yaml,
   sigmoid-shaped, spelling z-normalised) on top of that best holistic RM, under the preset's combine modes.
3. `rewardkit overopt` (generation/overopt.py): n_max policy samples per prompt for prompts of the trained and
   of held-out families (prompt seed 1; none is a training prompt), every reward and the gold scorer on every
   sample, the exact best-of-N curves, Gao fits and peaks, per group (all / trained / held-out families).
4. standard only: `rewardkit rl` runs (GRPO + LoRA) with tracked KL to the initial policy and held-out gold,
   fitted with Gao's RL form.
5. The papers' claims as paired comparisons on the same samples (bootstrap over prompts).

Writes benchmarks/results/overopt-<preset>.json, the plot under docs/results/overopt-<preset>/ and the preset's
section of docs/results.md (between its BEGIN/END markers; the rest of the file is kept). Trained reward models
are reused while the preset's settings are unchanged (runs/overopt/<preset>/rms/<method>/). Ends with one line

  overopt <preset> rewards=<int> n_max=<int> prompts=<int> seconds=<int>
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rewardkit.files import write_json_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs"
RESULTS_MD = DOCS / "results.md"
RUNS = REPO / "runs" / "overopt"
SUITE_REWARD = REPO / "configs" / "alarm" / "suite-short.yaml"

# reward-model methods: ObjectiveConfig fields (the papers' defaults otherwise)
METHODS: dict[str, dict[str, Any]] = {
    "bt": {"objective": "bt"},
    "haf": {"objective": "haf"},
    "pcrm-length": {"objective": "bt", "prior": "length"},
    "dpo": {"objective": "dpo"},
}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    trained: tuple[str, ...]  # suite families the reward models are trained on
    heldout: tuple[str, ...]  # suite families they never see
    pairs_per_family: int  # training pairs per trained family (suite seed 0), 15% held out for accuracy
    prompts_per_family: int  # best-of-N prompts per family (suite seed 1)
    n_max: int
    max_new_tokens: int
    methods: tuple[str, ...] = tuple(METHODS)
    compositions: tuple[str, ...] = ("hierarchical", "weighted")  # combine modes of SUITE_REWARD on the best RM
    top_layers: int = 2
    max_length: int = 128
    epochs: float = 1.0
    learning_rate: float = 3e-4
    batch_size: int = 8
    bootstrap: int = 1000
    model: str = "smollm2-135m"
    rl: tuple[tuple[str, str], ...] = ()  # (reward model or "best", combine mode) of each RL run
    rl_steps: int = 24

    @property
    def families(self) -> list[str]:
        return list(self.trained + self.heldout)


TRAINED = ("relevance", "format", "harmlessness", "arithmetic", "factual")
HELDOUT = ("language", "conciseness")

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "quick",
            "Four reward models trained on 170 suite pairs of five families, two ALaRM compositions on the "
            "best one; best-of-16 on 56 prompts (8 per family, 16 from the two held-out families).",
            TRAINED,
            HELDOUT,
            pairs_per_family=40,
            prompts_per_family=8,
            n_max=16,
            max_new_tokens=32,
        ),
        Preset(
            "standard",
            "Four reward models trained on 640 suite pairs of five families, two ALaRM compositions on "
            "the best one; best-of-64 on 168 prompts; GRPO runs on the best RM alone and hierarchical.",
            TRAINED,
            HELDOUT,
            pairs_per_family=150,
            prompts_per_family=24,
            n_max=64,
            max_new_tokens=48,
            epochs=2.0,
            rl=(("best", "holistic"), ("best", "hierarchical")),
            rl_steps=48,
        ),
    )
}


# ---- step 1: reward models ------------------------------------------------------------------------------


def rm_fingerprint(preset: Preset, method: str) -> str:
    """What a trained reward model depends on (not the best-of-N settings)."""
    keys = ("trained", "pairs_per_family", "top_layers", "max_length", "epochs", "learning_rate", "batch_size", "model")
    payload = json.dumps([{k: getattr(preset, k) for k in keys}, method, METHODS[method]], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def train_reward_model(preset: Preset, method: str, runs: Path) -> dict[str, Any]:
    """Train (or reuse) one method's reward model; returns its record (export, held-out accuracy, seconds)."""
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import ObjectiveConfig
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
    from rewardkit.training.run import run_training

    out = runs / "rms" / method
    record_file = out / "benchmark_rm.json"
    fingerprint = rm_fingerprint(preset, method)
    if record_file.exists():
        record = json.loads(record_file.read_text())
        if record.get("fingerprint") == fingerprint and (REPO / record["export"]).exists():
            print(f"[{method}] reusing {out} (held-out accuracy {record['heldout_accuracy']:.3f})", flush=True)
            return {**record, "reused": True}
    if out.exists():
        shutil.rmtree(out)
    cfg = RunConfig(
        model=ModelConfig(
            name=preset.model,
            tuning="top_layers",
            top_layers=preset.top_layers,
            dtype="float32",
            cache_trunk=True,
            trunk_cache_dir=str(runs / "trunk-cache"),
        ),
        data=DataConfig(
            train=[{"path": "suite", "families": list(preset.trained), "size": preset.pairs_per_family, "seed": 0}],
            heldout_fraction=0.15,
            split_seed=0,
            max_length=preset.max_length,
        ),
        objective=ObjectiveConfig(**METHODS[method]),
        training=TrainConfig(
            output_dir=str(out),
            num_epochs=preset.epochs,
            batch_size=preset.batch_size,
            eval_batch_size=32,
            learning_rate=preset.learning_rate,
            seed=0,
            logging_steps=10,
            save_steps=100_000,
            save_total_limit=1,
            report_to=[],
            eval_before=False,
            export=True,
        ),
    )
    print(f"[{method}] training on {preset.pairs_per_family} pairs x {len(preset.trained)} families", flush=True)
    started = time.time()
    summary = run_training(cfg)
    for checkpoint in out.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    heldout = summary["after"]["heldout"]
    export = Path(summary["export"]).resolve()
    record = {
        "method": method,
        "fingerprint": fingerprint,
        "objective": METHODS[method],
        "export": export.relative_to(REPO).as_posix() if export.is_relative_to(REPO) else str(export),
        "heldout_accuracy": heldout["accuracy"],
        "heldout_pairs": heldout["pairs"],
        "seconds": round(time.time() - started, 1),
    }
    write_json_atomic(record_file, record)
    print(f"[{method}] held-out accuracy {record['heldout_accuracy']:.3f} in {record['seconds']:.0f} s", flush=True)
    del summary
    gc.collect()
    return record


# ---- step 4: RL ----------------------------------------------------------------------------------------


def rl_runs(preset: Preset, rms: dict[str, dict[str, Any]], best: str, runs: Path) -> list[str]:
    """The preset's GRPO runs (reused when their rl.json exists), their output directories."""
    from rewardkit.generation.prompts import PromptConfig
    from rewardkit.generation.rl import HeldOutPrompts, RLConfig, RLTrainingConfig, run_rl
    from rewardkit.generation.rl_tracking import TrackingConfig

    dirs = []
    for rm, combine in preset.rl:
        name = best if rm == "best" else rm
        out = runs / "rl" / f"{name}-{combine}"
        dirs.append(str(out))
        if (out / "rl.json").exists():
            print(f"[rl {name}/{combine}] reusing {out}", flush=True)
            continue
        config = RLConfig(
            reward=str(SUITE_REWARD),
            combine=combine,
            holistic=str(REPO / rms[name]["export"]),
            policy=preset.model,
            stats_file=str(out / "stats.json"),
            output_dir=str(out),
            eval_max_new_tokens=preset.max_new_tokens,
            prompts=PromptConfig(source="suite", n_per_family=12, seed=11, families=list(preset.trained)),
            eval_prompts=HeldOutPrompts(source="suite", n_per_family=4, seed=12, families=preset.families),
            training=RLTrainingConfig(
                steps=preset.rl_steps,
                prompts_per_step=2,
                num_generations=4,
                max_completion_length=preset.max_new_tokens,
                learning_rate=3e-4,
            ),
            tracking=TrackingConfig(every=max(1, preset.rl_steps // 8), samples=2),
        )
        print(f"[rl {name}/{combine}] {preset.rl_steps} GRPO steps", flush=True)
        run_rl(config)
        gc.collect()
    return dirs


# ---- step 5: the papers' claims ----------------------------------------------------------------------------


def claims(result: Any, preset: Preset, best: str, bootstrap: int) -> list[dict[str, Any]]:
    """Paired comparisons of the gold of the best-of-n_max pick (the same samples judged by two rewards), with
    bootstrap SEs over prompts, and the fitted peaks."""
    from rewardkit.evaluation.overopt import best_of_n, bootstrap_indices, paired_difference, verdict
    from rewardkit.generation.overopt import prompt_groups

    groups = prompt_groups(
        result.items, {"trained families": list(preset.trained), "held-out families": list(preset.heldout)}
    )
    curves = result.report["curves"]
    n = preset.n_max
    out = []

    def add(claim: str, paper: str, better: str, worse: str, group: str) -> None:
        if better not in result.proxies or worse not in result.proxies or group not in groups:
            return
        index = groups[group]
        gold = result.gold[index]
        a = best_of_n(result.proxies[better][index], gold, [n])[:, 0]
        b = best_of_n(result.proxies[worse][index], gold, [n])[:, 0]
        diff = paired_difference(a, b, bootstrap_indices(len(index), bootstrap, seed=1))
        peaks = {name: _peak_text(curves[group][name]) for name in (better, worse)}
        out.append(
            {
                "claim": claim,
                "paper": paper,
                "compared": f"{better} − {worse}",
                "group": group,
                "n": n,
                **diff,
                "verdict": verdict(diff["difference"], diff["se"]),
                "peaks": peaks,
            }
        )

    alarm = [name for name in result.proxies if name.startswith("suite-alarm/")]
    add(
        "HaF's reward head holds up better under optimisation than BT's", "HaF-RM (Liu et al. 2024)", "haf", "bt", "all"
    )
    add(
        "PCRM's bounded margins hold up better under optimisation than BT's",
        "PCRM (Zhou et al. 2024)",
        "pcrm-length",
        "bt",
        "all",
    )
    for composition in alarm:
        add(f"{composition} beats its holistic RM ({best}) alone", "ALaRM (Lai et al. 2024)", composition, best, "all")
    add(
        "BT's explicit reward generalises better to unseen tasks than DPO's implicit reward",
        "HaF-RM (Liu et al. 2024)",
        "bt",
        "dpo",
        "held-out families",
    )
    add(
        "HaF's reward generalises better to unseen tasks than DPO's implicit reward",
        "HaF-RM (Liu et al. 2024)",
        "haf",
        "dpo",
        "held-out families",
    )
    return out


def _peak_text(curve: dict[str, Any]) -> str:
    fit = curve["fits"].get("gold") or {}
    if fit.get("status") in ("peak", "uncertain"):
        se = f" ± {fit['peak_d_se']:.2f}" if fit.get("peak_d_se") is not None else ""
        return f"{'uncertain ' if fit['status'] == 'uncertain' else ''}d* = {fit['peak_d']:.2f}{se}"
    return {"rising": "no turn-down", "falling": "falls from N=1", "flat": "flat"}.get(fit.get("status"), "–")


# ---- the run -------------------------------------------------------------------------------------------------


def hardware() -> dict[str, Any]:
    import torch

    info = {
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info["label"] = info.get("gpu") or f"CPU, {info['cpu_count']} cores"
    return info


def run_preset(preset: Preset, command: str) -> dict[str, Any]:
    from rewardkit.generation.overopt import OveroptConfig, OveroptPrompts, OveroptSampling, prompt_groups, run_overopt

    started = time.time()
    runs = RUNS / preset.name
    rms = {m: train_reward_model(preset, m, runs) for m in preset.methods}
    holistic = {m: r for m, r in rms.items() if METHODS[m]["objective"] != "dpo"} or rms
    best = max(holistic, key=lambda m: holistic[m]["heldout_accuracy"])
    print(f"best holistic reward model: {best} (held-out accuracy {rms[best]['heldout_accuracy']:.3f})", flush=True)
    trained_at = time.time()
    rl_dirs = rl_runs(preset, rms, best, runs) if preset.rl else []
    rl_at = time.time()
    for stale in (runs / "bon").glob("stats-*.json"):  # normalisation stats are measured on this run's samples
        stale.unlink()
    config = OveroptConfig(
        models=[f"{m}={REPO / r['export']}" for m, r in rms.items()],
        rewards=[str(SUITE_REWARD)] if preset.compositions else [],
        combine_modes=list(preset.compositions),
        holistic=str(REPO / rms[best]["export"]),
        policy=preset.model,
        n_max=preset.n_max,
        groups={"trained families": list(preset.trained), "held-out families": list(preset.heldout)},
        bootstrap=preset.bootstrap,
        rl_runs=rl_dirs,
        output_dir=str(runs / "bon"),
        prompts=OveroptPrompts(
            source="suite", n_per_family=preset.prompts_per_family, seed=1, families=preset.families
        ),
        sampling=OveroptSampling(max_new_tokens=preset.max_new_tokens, batch_size=64, seed=0),
    )
    check_no_training_prompts(preset, config)
    result = run_overopt(config)
    report = result.report
    del report["config"]
    return {
        "preset": preset.name,
        "description": preset.description,
        "settings": asdict(preset),
        "command": command,
        "hardware": hardware(),
        "created": time.strftime("%Y-%m-%d %H:%M"),
        "reward_models": rms,
        "best_holistic": best,
        "overopt": report,
        "claims": claims(result, preset, best, preset.bootstrap),
        "group_prompts": {g: len(i) for g, i in prompt_groups(result.items, config.groups).items()},
        "timings": {
            "reward_models": round(trained_at - started, 1),
            "rl": round(rl_at - trained_at, 1),
            "overopt": report["seconds"],
            **report["timings"],
        },
        "wall_seconds": round(time.time() - started, 1),
    }


def check_no_training_prompts(preset: Preset, config: Any) -> None:
    """Best-of-N prompts must not be reward-model training prompts (suite seed 0)."""
    from rewardkit.data.suite import build_suite, prompt_key
    from rewardkit.generation.prompts import load_prompts

    seen = {prompt_key(p.prompt) for p in build_suite(preset.pairs_per_family, seed=0, families=list(preset.trained))}
    overlap = sum(prompt_key(it.prompt) in seen for it in load_prompts(config.prompts))
    if overlap:
        raise SystemExit(f"{overlap} best-of-N prompts are reward-model training prompts: change the prompt seed")


# ---- docs/results.md --------------------------------------------------------------------------------------

HEADING = "## Over-optimisation"


def begin_marker(preset: str) -> str:
    return (
        f"<!-- BEGIN overopt:{preset} (generated by benchmarks/overopt.py from "
        f"benchmarks/results/overopt-{preset}.json; edits inside are overwritten) -->"
    )


def end_marker(preset: str) -> str:
    return f"<!-- END overopt:{preset} -->"


def put_section(document: str, preset: str, body: str) -> str:
    """`body` between the preset's markers, replacing what was there (appended at the end, under a heading, when
    the markers are missing)."""
    block = f"{begin_marker(preset)}\n{body.rstrip()}\n{end_marker(preset)}"
    pattern = re.compile(re.escape(f"<!-- BEGIN overopt:{preset} ") + ".*?" + re.escape(end_marker(preset)), re.S)
    if pattern.search(document):
        return pattern.sub(lambda _: block, document, count=1)
    heading = "" if HEADING in document else f"{HEADING}\n\n"
    return document.rstrip() + "\n\n" + heading + block + "\n"


def section(result: dict[str, Any], plot: str) -> str:
    from rewardkit.evaluation.overopt_report import bon_table, rl_table

    s, report = result["settings"], result["overopt"]
    t = result["timings"]
    rms = result["reward_models"]
    rm_rows = "\n".join(
        f"| {m} | {json.dumps(r['objective'])} | {r['heldout_accuracy']:.3f} ({r['heldout_pairs']} pairs) "
        f"| {r['seconds']:.0f} s{' (reused)' if r.get('reused') else ''} |"
        for m, r in rms.items()
    )
    lines = [
        f"### Preset `{result['preset']}` — {result['hardware']['label']}",
        "",
        result["description"],
        "",
        "| setting | value |",
        "|---|---|",
        f"| command | `{result['command']}` |",
        f"| policy | {s['model']}, temperature 1, {s['max_new_tokens']} new tokens, n = {s['n_max']} samples per "
        f"prompt (seed 0, cached) |",
        f"| prompts | {report['prompts']}: {s['prompts_per_family']} per family, suite seed 1; trained families "
        f"{', '.join(s['trained'])} ({result['group_prompts'].get('trained families', 0)}), held-out families "
        f"{', '.join(s['heldout'])} ({result['group_prompts'].get('held-out families', 0)}); none is a "
        "training prompt |",
        f"| reward models | {s['model']}, top {s['top_layers']} layers trained (the bottom layers' states "
        f"computed once and shared), {s['pairs_per_family']} suite pairs per trained family (seed 0; 15% held "
        f"out), max length {s['max_length']}, {s['epochs']:g} epoch(s), lr {s['learning_rate']:g} |",
        f"| compositions | configs/alarm/suite-short.yaml ({', '.join(s['compositions'])}) with the best holistic RM "
        f"(`{result['best_holistic']}`), stats measured on the samples |",
        "| gold | the suite's programmatic gold scorers (in [0, 1]) |",
        f"| estimator | exact expectation over all N-subsets of the n samples (order statistics), "
        f"d = sqrt(log N − (N−1)/N), {s['bootstrap']} bootstrap replicates over prompts |",
        f"| wall time | {result['wall_seconds'] / 60:.1f} min ({result['created']}): reward models "
        f"{t['reward_models']:.0f} s, sampling {t.get('sampling', 0):.0f} s, scoring {t.get('scoring', 0):.0f} s"
        + (f", RL {t['rl']:.0f} s" if t.get("rl") else "")
        + " |",
        "",
        "| reward model | objective | held-out accuracy (suite pairs) | training |",
        "|---|---|---:|---:|",
        rm_rows,
        "",
        f"![over-optimisation curves]({plot})",
        "",
        "Gold N=max: mean gold of the best-of-n pick ± the SE of its gain over N = 1 (bootstrap over prompts). "
        "The gold fit is Gao et al.'s R(d) = d (alpha − beta d) on the gains; d*, N* and the gold at d* are "
        "given only when the fitted peak lies within the measured range (± bootstrap SE); *no turn-down* means "
        "the gold of that reward was still rising at n; *peak share* is the share of bootstrap replicates "
        "whose fit peaks within the range (under half: an *uncertain* peak).",
        "",
    ]
    for group, per_reward in report["curves"].items():
        lines += [
            f"#### {group} ({result['group_prompts'].get(group, report['prompts'])} prompts)",
            "",
            bon_table(per_reward),
        ]
    if report.get("rl"):
        lines += [
            "#### RL (GRPO + LoRA), held-out gold against d = sqrt(KL to the initial policy)",
            "",
            rl_table(report["rl"]),
        ]
    if result["claims"]:
        lines += [
            "#### The papers' claims on these results",
            "",
            f"Paired difference of the gold of the best-of-{s['n_max']} pick (the same samples, picked by two "
            "rewards), ± bootstrap SE over prompts; *supported* when it exceeds 2 SE in the claim's "
            "direction, *contradicted* when it exceeds 2 SE against it.",
            "",
            "| claim | paper | compared | prompts | difference | SE | verdict | fitted peaks |",
            "|---|---|---|---|---:|---:|---|---|",
        ]
        for c in result["claims"]:
            peaks = "; ".join(f"{k}: {v}" for k, v in c["peaks"].items())
            lines.append(
                f"| {c['claim']} | {c['paper']} | {c['compared']} | {c['group']} | {c['difference']:+.4f} "
                f"| {c['se']:.4f} | {c['verdict']} | {peaks} |"
            )
    return "\n".join(lines) + "\n"


def render(results_dir: Path = RESULTS, document: Path = RESULTS_MD) -> list[str]:
    """Rewrite the section of every preset whose JSON exists (the plot is copied next to the docs)."""
    text = document.read_text() if document.exists() else "# Results\n"
    done = []
    for name in [p for p in PRESETS if (results_dir / f"overopt-{p}.json").exists()]:
        result = json.loads((results_dir / f"overopt-{name}.json").read_text())
        plot = document.parent / "results" / f"overopt-{name}" / "overopt.png"
        if not plot.exists():
            print(f"warning: {plot} is missing; run the preset to create it", file=sys.stderr)
        text = put_section(text, name, section(result, plot.relative_to(document.parent).as_posix()))
        done.append(name)
    write_text_atomic(document, text)
    return done


def summary_table(result: dict[str, Any]) -> str:
    from rewardkit.evaluation.overopt_report import bon_table

    return "\n".join(f"{group}\n{bon_table(curves)}" for group, curves in result["overopt"]["curves"].items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None)
    parser.add_argument("--quick", action="store_true", help="the quick preset (< 15 min on 2 CPU cores)")
    parser.add_argument("--rewards", nargs="+", metavar="METHOD", help=f"reward models to train (of {list(METHODS)})")
    parser.add_argument("--render", action="store_true", help="only regenerate docs/results.md from the JSON files")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for name in ("rewardkit.generation", "rewardkit.evaluation"):  # sampling, trunk sharing, scoring times
        logging.getLogger(name).setLevel(logging.INFO)
    if args.render:
        print("rendered:", ", ".join(render()) or "nothing")
        return 0
    preset = PRESETS["quick" if args.quick or args.preset is None else args.preset]
    if args.rewards:
        unknown = sorted(set(args.rewards) - set(METHODS))
        if unknown:
            parser.error(f"unknown reward models {unknown}; known: {list(METHODS)}")
        preset = replace(preset, methods=tuple(args.rewards))
    command = "python benchmarks/overopt.py " + " ".join(sys.argv[1:])
    result = run_preset(preset, command.strip())
    out = RESULTS / f"overopt-{preset.name}.json"
    write_json_atomic(out, result, indent=1)
    plot_dir = DOCS / "results" / f"overopt-{preset.name}"
    plot_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RUNS / preset.name / "bon" / "overopt.png", plot_dir / "overopt.png")
    render()
    print(summary_table(result))
    for c in result["claims"]:
        print(f"{c['claim']} [{c['group']}]: {c['difference']:+.4f} ± {c['se']:.4f} -> {c['verdict']}")
    print(f"results: {out.relative_to(REPO)}")
    print(
        f"overopt {preset.name} rewards={len(result['overopt']['rewards'])} n_max={preset.n_max} "
        f"prompts={result['overopt']['prompts']} seconds={int(result['wall_seconds'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
