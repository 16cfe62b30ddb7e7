"""Best-of-N: sample N responses per prompt, score them once, select with several combinations, compare.

    selections = {mode: select_best(breakdown.rewards(mode).reshape(P, N)) for mode in methods}
    compare_selections(judge_scores (P, N), selections[a], selections[b]) -> wins / ties / losses of a over b

Judges: the holistic RM and every aspect (raw scores), the suite's gold scorer when the prompts have gold
meta, and optionally an LLM judge (generation.judge; both orders). Method "first" is the first sample (no
selection), a reference for what selection buys.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rewardkit.config import option
from rewardkit.files import write_json_atomic, write_jsonl_atomic, write_text_atomic
from rewardkit.generation.judge import JudgeConfig, LLMJudge
from rewardkit.generation.prompts import PromptConfig, PromptItem, load_prompts
from rewardkit.generation.sampling import SamplingConfig, generate, load_policy
from rewardkit.rewards.combinators import COMBINE_MODES, RewardFunction
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


@dataclass
class Comparison:
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def win_rate(self) -> float:
        """(wins + 0.5 ties) / n for the first method."""
        return (self.wins + 0.5 * self.ties) / self.n if self.n else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {"wins": self.wins, "ties": self.ties, "losses": self.losses, "n": self.n, "win_rate": self.win_rate}


def comparison_from_prefs(prefs: np.ndarray) -> Comparison:
    p = np.asarray(prefs)
    return Comparison(int((p > 0).sum()), int((p == 0).sum()), int((p < 0).sum()))


def compare_selections(scores: np.ndarray, first: np.ndarray, second: np.ndarray,
                       tolerance: float = 0.0) -> Comparison:
    """How often the first selection scores higher than the second under a judge's (P, N) scores."""
    return comparison_from_prefs(preferences(picked(scores, first), picked(scores, second), tolerance))


# ------------------------------------------------------------------------------------------ orchestration

@dataclass
class BonSampling(SamplingConfig):
    max_new_tokens: int = 64
    batch_size: int = 32


@dataclass
class BonConfig:
    """`rewardkit bon` settings (flags or YAML)."""

    FLAG_NAMES = {"prompts.seed": "prompt-seed", "prompts.source": "prompts", "judge.base_url": "judge-url",
                  "judge.model": "judge-model", "judge.api_key_env": "judge-api-key-env",
                  "judge.timeout_s": "judge-timeout-s", "judge.max_tokens": "judge-max-tokens",
                  "judge.retries": "judge-retries"}

    reward: str = option("", "Reward YAML (rewards/config.py, docs/alarm.md) whose components score the samples.")
    holistic: str | None = option(None, "Override the reward's holistic model checkpoint.")
    stats_file: str | None = option(None, "Override where normalisation stats live; none: beside the reward YAML.")
    policy: str = option("smollm2-135m", "Policy that samples the responses (alias, directory or hub id).")
    n: int = option(8, "Responses sampled per prompt.")
    methods: list[str] = option(help="Selections compared: combine modes, or 'first' (no selection).",
                                choices=COMBINE_MODES + BASELINES,
                                factory=lambda: ["hierarchical", "holistic", "weighted", "first"])
    output_dir: str = option("runs/bon", "Directory for bon.md, bon.json and samples.jsonl.")
    tie_tolerance: float = option(0.0, "Score differences up to this count as ties.")
    recalibrate: bool = option(False, "Re-measure normalisation stats on these samples even if stored.")
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


def judge_scores(reward: RewardFunction, raw: dict[str, np.ndarray], items: Sequence[PromptItem],
                 responses: list[str], shape: tuple[int, int]) -> dict[str, np.ndarray]:
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
    samples = generate(policy, [it.prompt for it in items], config.n, config.sampling, desc="sampling N")
    P, N = len(items), config.n
    prompts = [it.prompt for it in items for _ in range(N)]
    metas = [it.meta for it in items for _ in range(N)]
    responses = [r for row in samples for r in row]
    raw = reward.raw_scores(prompts, responses, metas)  # every component scores the N * P samples once
    if config.recalibrate or reward.missing_stats():
        reward.calibrate(prompts, responses, metas, only_missing=not config.recalibrate, raw=raw)
    breakdown = reward.breakdown(prompts, responses, metas, raw_scores=raw)
    selections: dict[str, np.ndarray] = {}
    for method in config.methods:
        if method == "first":
            selections[method] = np.zeros(P, dtype=int)
        else:
            selections[method] = select_best(breakdown.rewards(method).reshape(P, N))
    tables = judge_scores(reward, breakdown.raw, items, responses, (P, N))
    comparisons: dict[str, dict[str, Any]] = {}
    judge = LLMJudge(config.judge) if config.judge.base_url else None
    try:
        for a, b in itertools.combinations(config.methods, 2):
            row = {name: compare_selections(t, selections[a], selections[b], config.tie_tolerance).as_dict()
                   for name, t in tables.items()}
            if judge is not None:
                sa = [samples[i][selections[a][i]] for i in range(P)]
                sb = [samples[i][selections[b][i]] for i in range(P)]
                prefs = judge.compare_many([it.prompt for it in items], sa, sb, desc=f"judging {a} vs {b}")
                row["llm_judge"] = comparison_from_prefs(prefs).as_dict()
            row["same_selection"] = int((selections[a] == selections[b]).sum())
            comparisons[f"{a} vs {b}"] = row
    finally:
        if judge is not None:
            judge.close()
    means = {m: {name: float(picked(t, sel).mean()) for name, t in tables.items()} for m, sel in selections.items()}
    results = {"policy": config.policy, "reward": reward.name, "prompts": P, "n": N, "methods": config.methods,
               "judges": list(tables) + (["llm_judge"] if judge is not None else []), "means": means,
               "comparisons": comparisons, "config": _plain(asdict(config))}
    write_outputs(config.output_dir, results, items, samples, tables, breakdown, selections)
    return results


def _plain(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def write_outputs(out_dir: str, results: dict[str, Any], items: Sequence[PromptItem], samples: list[list[str]],
                  tables: dict[str, np.ndarray], breakdown: Any, selections: dict[str, np.ndarray]) -> None:
    out = Path(out_dir)
    write_json_atomic(out / "bon.json", results)
    write_text_atomic(out / "bon.md", markdown_report(results))
    N = len(samples[0]) if samples else 0
    combined = {m: breakdown.rewards(m).reshape(len(items), N) for m in selections if m in COMBINE_MODES}
    write_jsonl_atomic(out / "samples.jsonl", (
        {"prompt": it.prompt, "meta": it.meta, "responses": row,
         "scores": {name: t[i].tolist() for name, t in tables.items()},
         "combined": {m: c[i].tolist() for m, c in combined.items()},
         "selected": {m: int(s[i]) for m, s in selections.items()}}
        for i, (it, row) in enumerate(zip(items, samples))))


def markdown_report(results: dict[str, Any]) -> str:
    judges = results["judges"]
    lines = [f"best-of-{results['n']} on {results['prompts']} prompts, policy {results['policy']}, "
             f"reward {results['reward']}", "", "mean judge score of the selected response:", "",
             "| method | " + " | ".join(j for j in judges if j != "llm_judge") + " |",
             "|---|" + "---:|" * len([j for j in judges if j != "llm_judge"])]
    for method, row in results["means"].items():
        lines.append(f"| {method} | " + " | ".join(f"{row[j]:.3f}" for j in judges if j in row) + " |")
    lines += ["", "pairwise win rates of A over B ((wins + ties/2) / n; W/T/L):", "",
              "| A vs B | same pick | " + " | ".join(judges) + " |", "|---|---:|" + "---:|" * len(judges)]
    for pair, row in results["comparisons"].items():
        cells = []
        for j in judges:
            c = row[j]
            cells.append(f"{c['win_rate']:.3f} ({c['wins']}/{c['ties']}/{c['losses']})")
        lines.append(f"| {pair} | {row['same_selection']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
