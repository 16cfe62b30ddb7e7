"""Best-of-N: sample N responses per prompt, score them once, select with several combinations, compare.

    selections = {mode: select_best(breakdown.rewards(mode).reshape(P, N)) for mode in methods}
    preferences(judge score of selections[a], of selections[b]) -> +1 / 0 / -1 per prompt and sampling seed

Judges: the holistic RM and every aspect (raw scores), the suite's gold scorer when the prompts have gold
meta, and optionally an LLM judge (generation.judge; both orders). Method "first" is the first sample (no
selection), a reference for what selection buys. With several sampling `seeds`, each seed draws its own N
samples per prompt and the comparisons pool all (prompt, seed) pairs: W / (W + L) (ties excluded) and
(W + T/2) / n, each with a bootstrap SE over prompts (evaluation/winrate.py). `changed_picks` is how often each
composition picks another response than holistic-only.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.config import option
from rewardkit.evaluation.winrate import format_win, win_stats
from rewardkit.files import write_json_atomic, write_jsonl_atomic, write_text_atomic
from rewardkit.generation.judge import JudgeConfig, LLMJudge
from rewardkit.generation.prompts import PromptConfig, PromptItem, load_prompts
from rewardkit.generation.sampling import SamplingConfig, generate, load_policy
from rewardkit.rewards.combinators import COMBINE_MODES, RewardBreakdown, RewardFunction
from rewardkit.rewards.consistency import preferences

log = logging.getLogger("rewardkit.generation")

BASELINES = ("first",)


# ------------------------------------------------------------------------------------------ pure functions


def select_best(rewards: np.ndarray) -> np.ndarray:
    """Index of the best of N per prompt (rows); the first one on ties."""
    r = np.asarray(rewards, dtype=float)
    if r.ndim != 2 or r.shape[1] < 1:
        raise ValueError(f"rewards must be (prompts, N) with N >= 1, got shape {r.shape}")
    return np.argmax(r, axis=1)


def picked(scores: np.ndarray, selection: np.ndarray) -> np.ndarray:
    """scores[(P, N)] of each prompt's selected response."""
    return np.asarray(scores)[np.arange(len(selection)), selection]


def selection_prefs(scores: np.ndarray, first: np.ndarray, second: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """+1 / 0 / -1 per prompt: does the first selection score higher than the second under a judge's (P, N)?"""
    return preferences(picked(scores, first), picked(scores, second), tolerance)


def compare_selections(
    scores: np.ndarray, first: np.ndarray, second: np.ndarray, tolerance: float = 0.0
) -> dict[str, Any]:
    """Wins / ties / losses of the first selection over the second under a judge, with both win rates."""
    return win_stats(selection_prefs(scores, first, second, tolerance))


# ------------------------------------------------------------------------------------------ orchestration


@dataclass
class BonSampling(SamplingConfig):
    max_new_tokens: int = 64
    batch_size: int = 32


@dataclass
class BonConfig:
    """`rewardkit bon` settings (flags or YAML)."""

    FLAG_NAMES = {
        "prompts.seed": "prompt-seed",
        "prompts.source": "prompts",
        "judge.base_url": "judge-url",
        "judge.model": "judge-model",
        "judge.api_key_env": "judge-api-key-env",
        "judge.timeout_s": "judge-timeout-s",
        "judge.max_tokens": "judge-max-tokens",
        "judge.retries": "judge-retries",
    }

    reward: str = option("", "Reward YAML (rewards/config.py, docs/alarm.md) whose components score the samples.")
    holistic: str | None = option(None, "Override the reward's holistic model checkpoint.")
    stats_file: str | None = option(None, "Override where normalisation stats live; none: beside the reward YAML.")
    policy: str = option("smollm2-135m", "Policy that samples the responses (alias, directory or hub id).")
    n: int = option(8, "Responses sampled per prompt (per seed).")
    methods: list[str] = option(
        help="Selections compared: combine modes, or 'first' (no selection).",
        choices=COMBINE_MODES + BASELINES,
        factory=lambda: ["hierarchical", "holistic", "weighted", "first"],
    )
    output_dir: str = option("runs/bon", "Directory for bon.md, bon.json and samples.jsonl.")
    tie_tolerance: float = option(0.0, "Score differences up to this count as ties.")
    recalibrate: bool = option(False, "Re-measure normalisation stats on these samples even if stored.")
    seeds: list[int] | None = option(None, "Sampling seeds, n samples per prompt each; none: [sampling.seed].")
    bootstrap: int = option(1000, "Bootstrap replicates over prompts for the win-rate standard errors.")
    prompts: PromptConfig = field(default_factory=PromptConfig)
    sampling: BonSampling = field(default_factory=BonSampling)
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def __post_init__(self) -> None:
        if not self.reward:
            raise ValueError("reward: a reward YAML file is required (--reward FILE)")
        if self.n < 2:
            raise ValueError(f"best-of-N needs n >= 2, got {self.n}")
        bad = [m for m in self.methods if m not in COMBINE_MODES + BASELINES]
        if bad or not self.methods:
            raise ValueError(f"methods must be among {', '.join(COMBINE_MODES + BASELINES)}, got {self.methods}")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"seeds must be distinct and non-empty, got {self.seeds}")
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap must be >= 0, got {self.bootstrap}")


@dataclass
class SeedRun:
    """One sampling seed's samples, judge tables, reward breakdown and selections."""

    seed: int
    samples: list[list[str]]
    tables: dict[str, np.ndarray]
    breakdown: RewardBreakdown
    selections: dict[str, np.ndarray]


def judge_scores(
    reward: RewardFunction,
    raw: dict[str, np.ndarray],
    items: Sequence[PromptItem],
    responses: list[str],
    shape: tuple[int, int],
) -> dict[str, np.ndarray]:
    """(P, N) score tables of every judge: each component (raw) and the gold scorer when available."""
    from rewardkit.rewards.gold import GoldReward, has_gold

    tables = {name: values.reshape(shape) for name, values in raw.items()}
    metas = [it.meta for it in items for _ in range(shape[1])]
    if has_gold(metas) and "gold" not in tables:
        prompts = [it.prompt for it in items for _ in range(shape[1])]
        tables["gold"] = np.asarray(GoldReward().score(prompts, responses, metas)).reshape(shape)
    return tables


def run_bon(config: BonConfig, reward: RewardFunction | None = None, policy: Any = None) -> dict[str, Any]:
    """Generate (cached), calibrate if needed, score, select, compare; writes samples.jsonl, bon.json, bon.md."""
    from rewardkit.rewards.config import load_reward

    reward = reward or load_reward(config.reward, holistic_path=config.holistic, stats_file=config.stats_file)
    items = load_prompts(config.prompts)
    if not items:
        raise ValueError("no prompts to run best-of-N on")
    policy = policy or load_policy(config.policy)
    runs = [
        sample_and_select(config, reward, policy, items, seed, calibrate=k == 0)
        for k, seed in enumerate(config.seeds or [config.sampling.seed])
    ]
    P, N = len(items), config.n
    judge = LLMJudge(config.judge) if config.judge.base_url else None
    try:
        comparisons = {
            f"{a} vs {b}": compare_methods(config, runs, items, a, b, judge)
            for a, b in itertools.combinations(config.methods, 2)
        }
    finally:
        if judge is not None:
            judge.close()
    judges = list(runs[0].tables) + (["llm_judge"] if judge is not None else [])
    means = {
        m: {
            name: float(np.mean([picked(r.tables[name], r.selections[m]).mean() for r in runs]))
            for name in runs[0].tables
        }
        for m in config.methods
    }
    results = {
        "policy": config.policy,
        "reward": reward.name,
        "prompts": P,
        "n": N,
        "seeds": [r.seed for r in runs],
        "methods": config.methods,
        "judges": judges,
        "means": means,
        "changed_picks": changed_picks(runs, config.methods),
        "comparisons": comparisons,
        "degenerate": degenerate_shares(runs, config.methods),
        "config": _plain(asdict(config)),
    }
    write_outputs(config.output_dir, results, items, runs)
    return results


def sample_and_select(
    config: BonConfig, reward: RewardFunction, policy: Any, items: Sequence[PromptItem], seed: int, calibrate: bool
) -> SeedRun:
    """N samples per prompt under one sampling seed, scored once by every component, selected by every method;
    missing normalisation stats are measured on the first seed's samples (`calibrate`)."""
    P, N = len(items), config.n
    samples = generate(
        policy, [it.prompt for it in items], N, replace(config.sampling, seed=seed), desc=f"sampling N (seed {seed})"
    )
    prompts = [it.prompt for it in items for _ in range(N)]
    metas = [it.meta for it in items for _ in range(N)]
    responses = [r for row in samples for r in row]
    raw = reward.raw_scores(prompts, responses, metas)  # every component scores the N * P samples once
    if calibrate and (config.recalibrate or reward.missing_stats()):
        reward.calibrate(prompts, responses, metas, only_missing=not config.recalibrate, raw=raw)
    breakdown = reward.breakdown(prompts, responses, metas, raw_scores=raw)
    selections = {
        m: np.zeros(P, dtype=int) if m == "first" else select_best(breakdown.rewards(m).reshape(P, N))
        for m in config.methods
    }
    return SeedRun(seed, samples, judge_scores(reward, breakdown.raw, items, responses, (P, N)), breakdown, selections)


def compare_methods(
    config: BonConfig, runs: Sequence[SeedRun], items: Sequence[PromptItem], a: str, b: str, judge: LLMJudge | None
) -> dict[str, Any]:
    """Every judge's pooled comparison of method a's picks with method b's over (prompt, seed)."""
    row: dict[str, Any] = {}
    for name in runs[0].tables:
        prefs = np.stack(
            [selection_prefs(r.tables[name], r.selections[a], r.selections[b], config.tie_tolerance) for r in runs],
            axis=1,
        )
        row[name] = win_stats(prefs, config.bootstrap)
    if judge is not None:
        columns = []
        for r in runs:
            sa = [row_[i] for row_, i in zip(r.samples, r.selections[a])]
            sb = [row_[i] for row_, i in zip(r.samples, r.selections[b])]
            columns.append(
                judge.compare_many([it.prompt for it in items], sa, sb, desc=f"judging {a} vs {b} (seed {r.seed})")
            )
        row["llm_judge"] = win_stats(np.stack(columns, axis=1), config.bootstrap)
    row["same_selection"] = int(sum((r.selections[a] == r.selections[b]).sum() for r in runs))
    return row


def changed_picks(runs: Sequence[SeedRun], methods: Sequence[str]) -> dict[str, float]:
    """Share of (prompt, seed) where each method picks another response than holistic-only ({} without it)."""
    if "holistic" not in methods:
        return {}
    return {
        m: float(np.mean([(r.selections[m] != r.selections["holistic"]).mean() for r in runs]))
        for m in methods
        if m != "holistic"
    }


def degenerate_shares(runs: Sequence[SeedRun], methods: Sequence[str]) -> dict[str, float] | None:
    """Share of degenerate responses among all samples and among each method's picks (None without a penalty)."""
    if runs[0].breakdown.degenerate is None:
        return None
    masks = [r.breakdown.degenerate.reshape(len(r.samples), -1) for r in runs]
    out = {"samples": float(np.mean([m.mean() for m in masks]))}
    out.update(
        {m: float(np.mean([picked(mask, r.selections[m]).mean() for mask, r in zip(masks, runs)])) for m in methods}
    )
    return out


def _plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def write_outputs(out_dir: str, results: dict[str, Any], items: Sequence[PromptItem], runs: Sequence[SeedRun]) -> None:
    out = Path(out_dir)
    write_json_atomic(out / "bon.json", results)
    write_text_atomic(out / "bon.md", markdown_report(results))

    def rows() -> Any:
        for r in runs:
            N = len(r.samples[0]) if r.samples else 0
            combined = {m: r.breakdown.rewards(m).reshape(len(items), N) for m in r.selections if m in COMBINE_MODES}
            for i, (it, row) in enumerate(zip(items, r.samples)):
                yield {
                    "seed": r.seed,
                    "prompt": it.prompt,
                    "meta": it.meta,
                    "responses": row,
                    "scores": {name: t[i].tolist() for name, t in r.tables.items()},
                    "combined": {m: c[i].tolist() for m, c in combined.items()},
                    "selected": {m: int(s[i]) for m, s in r.selections.items()},
                }

    write_jsonl_atomic(out / "samples.jsonl", rows())


def markdown_report(results: dict[str, Any]) -> str:
    judges = results["judges"]
    seeds = results.get("seeds") or [None]
    units = results["prompts"] * len(seeds)
    lines = [
        f"best-of-{results['n']} on {results['prompts']} prompts x {len(seeds)} sampling seed(s), policy "
        f"{results['policy']}, reward {results['reward']}",
        "",
        "mean judge score of the selected response:",
        "",
        "| method | " + " | ".join(j for j in judges if j != "llm_judge") + " |",
        "|---|" + "---:|" * len([j for j in judges if j != "llm_judge"]),
    ]
    for method, row in results["means"].items():
        lines.append(f"| {method} | " + " | ".join(f"{row[j]:.3f}" for j in judges if j in row) + " |")
    if results.get("changed_picks"):
        lines += [
            "",
            f"picks that differ from holistic-only (share of {units} prompt-seed pairs): "
            + ", ".join(f"{m} {v:.3f}" for m, v in results["changed_picks"].items()),
        ]
    if results.get("degenerate"):
        lines += ["", "degenerate responses: " + ", ".join(f"{k} {v:.3f}" for k, v in results["degenerate"].items())]
    for decided, title in ((True, "W / (W + L), ties excluded"), (False, "(W + T/2) / n")):
        lines += [
            "",
            f"pairwise win rates of A over B, {title}, ± bootstrap SE over prompts (W/T/L):",
            "",
            "| A vs B | same pick | " + " | ".join(judges) + " |",
            "|---|---:|" + "---:|" * len(judges),
        ]
        for pair, row in results["comparisons"].items():
            cells = [format_win(row[j], decided) for j in judges]
            lines.append(f"| {pair} | {row['same_selection']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
