"""`rewardkit select-aspects`: rank candidate aspects by their consistency with the holistic reward.

For each prompt the policy gives a greedy and a sampled response; the holistic reward and every candidate
aspect (the aspects of a reward YAML, plus the suite's gold scorer as a reference row when the prompts have
gold meta) state their preference; `rewards.consistency` turns that into inconsistency rates, coverage and
greedy win rates. With `shaped`, each aspect states its preference by its term in the reward (normalised, sigmoid-
shaped, weighted, summed over its placements: what the hierarchy adds), not by its raw score; missing
normalisation stats are then measured on the greedy and sampled responses. Writes aspects.md, aspects.json and
aspects.png.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardkit.config import option
from rewardkit.files import write_jsonl_atomic, write_text_atomic
from rewardkit.generation.prompts import PromptConfig, load_prompts
from rewardkit.generation.sampling import SamplingConfig, generate, load_policy
from rewardkit.rewards.combinators import RewardFunction
from rewardkit.rewards.consistency import (
    aspect_consistency,
    bar_chart,
    consistency_table,
    preferences,
    rank_aspects,
    write_results,
)

log = logging.getLogger("rewardkit.generation")


@dataclass
class SelectionPrompts(PromptConfig):
    n_per_family: int = 6


@dataclass
class SelectionSampling(SamplingConfig):
    max_new_tokens: int = 64
    batch_size: int = 32


@dataclass
class SelectAspectsConfig:
    """`rewardkit select-aspects` settings (flags or YAML)."""

    FLAG_NAMES = {"prompts.seed": "prompt-seed", "prompts.source": "prompts"}

    reward: str = option("", "Reward YAML: its holistic component and its aspects (the candidates).")
    holistic: str | None = option(None, "Override the reward's holistic model checkpoint.")
    stats_file: str | None = option(None, "Override where normalisation stats live; none: beside the reward YAML.")
    policy: str = option("smollm2-135m", "Policy that gives the greedy and sampled responses.")
    include_gold: bool = option(True, "Add the suite's gold scorer as a reference row when prompts have gold meta.")
    shaped: bool = option(False, "Compare the aspects' shaped reward terms (as the reward uses them), not raw scores.")
    tie_tolerance: float = option(0.0, "Score differences up to this count as ties.")
    output_dir: str = option("runs/select-aspects", "Directory for aspects.md, aspects.json and aspects.png.")
    prompts: SelectionPrompts = field(default_factory=SelectionPrompts)
    sampling: SelectionSampling = field(default_factory=SelectionSampling)

    def __post_init__(self) -> None:
        if not self.reward:
            raise ValueError("reward: a reward YAML file is required (--reward FILE)")
        if self.tie_tolerance < 0:
            raise ValueError(f"tie_tolerance must be >= 0, got {self.tie_tolerance}")


def run_select_aspects(
    config: SelectAspectsConfig, reward: RewardFunction | None = None, policy: Any = None
) -> dict[str, Any]:
    from rewardkit.rewards.gold import GoldReward, has_gold

    if reward is None:
        from rewardkit.rewards.config import load_reward

        # only the components matter here, not how they combine
        reward = load_reward(
            config.reward, holistic_path=config.holistic, stats_file=config.stats_file, combine="weighted"
        )
    if reward.holistic is None:
        raise ValueError(f"reward {reward.name} has no holistic component to select aspects against")
    items = load_prompts(config.prompts)
    policy = policy or load_policy(config.policy)
    prompts = [it.prompt for it in items]
    metas = [it.meta for it in items]
    greedy = [r[0] for r in generate(policy, prompts, 1, config.sampling, greedy=True, desc="greedy")]
    sampled = [r[0] for r in generate(policy, prompts, 1, config.sampling, desc="sampled")]
    scores = aspect_scores(reward, prompts, greedy, sampled, metas, config.shaped)
    if config.include_gold and has_gold(metas) and "gold" not in scores:
        gold = GoldReward()
        scores["gold (reference)"] = (gold.score(prompts, greedy, metas), gold.score(prompts, sampled, metas))
    h_prefs = preferences(
        reward.holistic.score(prompts, greedy, metas),
        reward.holistic.score(prompts, sampled, metas),
        config.tie_tolerance,
    )
    results = [
        aspect_consistency(name, h_prefs, preferences(g, s, config.tie_tolerance)) for name, (g, s) in scores.items()
    ]
    ranked = rank_aspects(results)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = consistency_table(reward.holistic.name, h_prefs, ranked)
    write_text_atomic(out / "aspects.md", table)
    write_results(
        ranked,
        out / "aspects.json",
        holistic=reward.holistic.name,
        prompts=len(items),
        policy=config.policy,
        config=asdict(config),
    )
    bar_chart(ranked, out / "aspects.png", title=f"aspects vs {reward.holistic.name} ({len(items)} prompts)")
    write_jsonl_atomic(
        out / "responses.jsonl",
        ({"prompt": it.prompt, "meta": it.meta, "greedy": g, "sampled": s} for it, g, s in zip(items, greedy, sampled)),
    )
    return {"ranked": ranked, "table": table, "output_dir": str(out)}


def aspect_scores(
    reward: RewardFunction,
    prompts: list[Any],
    greedy: list[str],
    sampled: list[str],
    metas: list[dict[str, Any]],
    shaped: bool,
) -> dict[str, tuple[Any, Any]]:
    """{aspect: (scores of the greedy responses, of the sampled ones)}: raw scores, or the shaped reward terms."""
    if not shaped:
        return {
            a.component.name: (a.component.score(prompts, greedy, metas), a.component.score(prompts, sampled, metas))
            for a in reward.aspects
        }
    both, both_prompts, both_metas = greedy + sampled, prompts + prompts, metas + metas
    raw = reward.raw_scores(both_prompts, both, both_metas)
    if reward.missing_stats():
        reward.calibrate(both_prompts, both, both_metas, raw=raw)
    terms = reward.breakdown(both_prompts, both, both_metas, raw_scores=raw).aspect_terms
    n = len(greedy)
    return {name: (values[:n].tolist(), values[n:].tolist()) for name, values in terms.items()}
