"""`rewardkit overopt`: how hard can a policy be pushed against a reward before the gold reward falls?

    samples = n_max responses per prompt from the policy (cached and seeded: generation/sampling.py)
    proxies = every reward on every sample: RM checkpoints through their shared frozen trunks
              (evaluation/response_scoring.py), reward YAMLs (holistic, hierarchical, weighted, aspects) from their
              components' scores
    gold    = the suite's programmatic gold scorer (or a checkpoint / reward YAML standing in for gold)
    curves  = for N in 1, 2, 4, ..., n_max and every prompt group: the exact expected proxy and gold of the
              best-of-N pick over all N-subsets, d = sqrt(KL_bon), bootstrap SEs over prompts, Gao et al.'s
              best-of-N fits and their peaks (evaluation/overopt.py)
    rl      = runs of `rewardkit rl` (their tracked KL to the initial policy and held-out gold), fitted with
              Gao's RL form

Writes overopt.json, overopt.md, overopt.png and scores.jsonl (every sample, every score) under output_dir.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.evaluation.overopt import bon_curve, bootstrap_indices, default_ns, fit_gao
from rewardkit.files import write_json_atomic, write_jsonl_atomic, write_text_atomic
from rewardkit.generation.prompts import PromptConfig, PromptItem, load_prompts
from rewardkit.generation.sampling import SamplingConfig, generate, load_policy
from rewardkit.rewards.combinators import COMBINE_MODES

log = logging.getLogger("rewardkit.generation")

GOLD_SUITE = "suite"


@dataclass
class OveroptPrompts(PromptConfig):
    n_per_family: int = 8


@dataclass
class OveroptSampling(SamplingConfig):
    max_new_tokens: int = 48
    batch_size: int = 64


@dataclass
class OveroptConfig:
    """`rewardkit overopt` settings (flags or YAML)."""

    FLAG_NAMES = {
        "prompts.seed": "prompt-seed",
        "prompts.source": "prompts",
        "prompts.limit": "limit",
        "sampling.seed": "seed",
        "sampling.batch_size": "sampling-batch-size",
    }

    models: list[str] = field(default_factory=list)  # reward-model checkpoints; "name=path" names one
    rewards: list[str] = field(default_factory=list)  # reward YAMLs (rewards/config.py)
    combine_modes: list[str] = field(default_factory=list)  # evaluate each reward YAML under these (default: its own)
    holistic: str | None = None  # override the reward YAMLs' holistic checkpoint
    gold: str = GOLD_SUITE  # suite (programmatic gold of suite prompts) | a checkpoint | a reward YAML
    policy: str = "smollm2-135m"
    n_max: int = 16  # samples per prompt
    ns: list[int] | None = None  # best-of-N sizes (default 1, 2, 4, ..., n_max)
    groups: dict[str, list[str]] | None = None  # prompt groups by suite family, besides "all"
    bootstrap: int = 1000  # replicates over prompts
    bootstrap_seed: int = 0
    batch_size: int = 16  # reward-model scoring
    trunk_cache: bool = True  # checkpoints of one base and frozen depth share their bottom-layer pass
    trunk_cache_dir: str | None = None  # keep trunk states on disk (default: memory only)
    rl_runs: list[str] = field(default_factory=list)  # `rewardkit rl` output directories
    output_dir: str = "runs/overopt"
    prompts: OveroptPrompts = field(default_factory=OveroptPrompts)
    sampling: OveroptSampling = field(default_factory=OveroptSampling)

    def __post_init__(self) -> None:
        if not (self.models or self.rewards or self.rl_runs):
            raise ValueError(
                "nothing to measure: give --models CHECKPOINT..., --rewards YAML... and/or --rl-runs DIR..."
            )
        if self.n_max < 2:
            raise ValueError(f"n_max must be >= 2, got {self.n_max}")
        bad = [m for m in self.combine_modes if m not in COMBINE_MODES]
        if bad:
            raise ValueError(f"combine_modes must be among {', '.join(COMBINE_MODES)}, got {bad}")
        if self.ns is not None and (sorted(set(self.ns)) != self.ns or self.ns[0] != 1 or self.ns[-1] > self.n_max):
            raise ValueError(f"ns must increase from 1 to at most n_max={self.n_max}, got {self.ns}")
        if self.bootstrap < 2 or self.batch_size < 1:
            raise ValueError("bootstrap must be >= 2 and batch_size >= 1")

    def best_of(self) -> list[int]:
        return list(self.ns) if self.ns else default_ns(self.n_max)


# ---- naming ------------------------------------------------------------------------------------------------


def model_specs(entries: Sequence[str]) -> dict[str, str]:
    """{name: checkpoint} from "path" or "name=path" entries; a path's name is its folder (its parent's for an
    `export` folder)."""
    out: dict[str, str] = {}
    for entry in entries:
        name, sep, path = entry.partition("=")
        if not sep:
            path = entry
            folder = Path(entry.rstrip("/"))
            name = folder.parent.name if folder.name == "export" and folder.parent.name else folder.name
        if not name or not path:
            raise ValueError(f"models: cannot read {entry!r} (expected PATH or NAME=PATH)")
        if name in out:
            raise ValueError(f"models: two checkpoints named {name!r}; name them with NAME=PATH")
        out[name] = path
    return out


# ---- scoring -----------------------------------------------------------------------------------------------


class SampleScorer:
    """Scores one fixed set of (prompt, response, meta) items with checkpoints (each once, through shared
    trunks) and reward YAMLs (from their components' scores)."""

    def __init__(
        self,
        items: Sequence[PromptItem],
        responses: list[list[str]],
        *,
        batch_size: int = 16,
        trunk_cache: bool = True,
        trunk_cache_dir: str | None = None,
    ):
        from rewardkit.evaluation.response_scoring import SharedTrunks

        self.prompts = [it.prompt for it, row in zip(items, responses) for _ in row]
        self.metas = [it.meta for it, row in zip(items, responses) for _ in row]
        self.responses = [r for row in responses for r in row]
        self.batch_size = batch_size
        self.trunks = SharedTrunks(trunk_cache_dir) if trunk_cache else None
        self.by_checkpoint: dict[tuple[str, int | None], np.ndarray] = {}
        self.seconds: dict[str, float] = {}

    def checkpoint(self, path: str, max_length: int | None = None) -> np.ndarray:
        """The primary reward of a checkpoint (reward head, or a DPO policy's implicit reward) on every item."""
        from rewardkit.evaluation.evaluate import load_scorer
        from rewardkit.evaluation.response_scoring import score_responses

        key = (str(path), max_length)
        if key not in self.by_checkpoint:
            started = time.time()
            scorer = load_scorer(path, max_length=max_length)
            if scorer.reward_head:
                scorer.reference = None  # the reward head is the reward: no implicit-reward pass
            cache = self.trunks.cache_for(scorer) if self.trunks is not None else None
            self.by_checkpoint[key] = score_responses(
                scorer, self.prompts, self.responses, trunk_cache=cache, batch_size=self.batch_size
            )
            del scorer
            gc.collect()
            self.seconds[str(path)] = round(time.time() - started, 1)
            log.info(
                "scored %d samples with %s in %.0f s%s",
                len(self.responses),
                path,
                self.seconds[str(path)],
                " (shared trunk)" if cache is not None else "",
            )
        return self.by_checkpoint[key]

    def reward_yaml(
        self, path: str, *, holistic: str | None, stats_file: str | Path, modes: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """{name: rewards} of a reward YAML under each mode (its own mode when `modes` is empty). Missing
        normalisation stats are measured on these samples and saved to `stats_file`."""
        from rewardkit.rewards.base import is_token_level
        from rewardkit.rewards.config import load_reward
        from rewardkit.rewards.model import ModelReward

        reward = load_reward(path, holistic_path=holistic, stats_file=str(stats_file))
        raw: dict[str, np.ndarray] = {}
        for name, component in reward.components().items():
            if isinstance(component, ModelReward):
                raw[name] = self.checkpoint(component.path, component.max_length)
            elif not is_token_level(component):
                raw[name] = np.asarray(component.score(self.prompts, self.responses, self.metas), dtype=float)
        if reward.missing_stats():
            reward.calibrate(self.prompts, self.responses, self.metas, raw=raw)
        breakdown = reward.breakdown(self.prompts, self.responses, self.metas, raw_scores=raw)
        if not modes:
            return {reward.name: breakdown.rewards()}
        return {f"{reward.name}/{mode}": breakdown.rewards(mode) for mode in modes}

    def gold(self, spec: str, output_dir: Path) -> np.ndarray:
        if spec == GOLD_SUITE:
            from rewardkit.rewards.gold import GoldReward, has_gold

            if not has_gold(self.metas):
                raise ValueError(
                    "gold: suite needs suite prompts (with gold meta); use --prompts suite or name a "
                    "checkpoint / reward YAML as --gold"
                )
            return np.asarray(GoldReward().score(self.prompts, self.responses, self.metas), dtype=float)
        if spec.endswith((".yaml", ".yml")):
            (values,) = self.reward_yaml(
                spec, holistic=None, stats_file=output_dir / "stats-gold.json", modes=[]
            ).values()
            return values
        return self.checkpoint(spec)


# ---- RL runs -----------------------------------------------------------------------------------------------


def load_rl_run(directory: str | Path) -> dict[str, Any]:
    """The tracked series of a `rewardkit rl` run: rl.json's "tracking", else tracking.json (a run that
    stopped early)."""
    from rewardkit.generation.rl_tracking import TRACKING_FILE

    folder = Path(directory)
    results = folder / "rl.json"
    tracking = None
    if results.exists():
        tracking = json.loads(results.read_text()).get("tracking")
    if tracking is None and (folder / TRACKING_FILE).exists():
        tracking = json.loads((folder / TRACKING_FILE).read_text())
    if not tracking or not tracking.get("records"):
        raise FileNotFoundError(
            f"{folder}: no KL / held-out score series (rl.json 'tracking' or {TRACKING_FILE}); "
            "run `rewardkit rl` with --track-every > 0"
        )
    return tracking


def rl_curve(tracking: dict[str, Any]) -> dict[str, Any]:
    """Held-out score against d = sqrt(KL to the initial policy), and Gao's RL fit of its gain when at least
    three measurements have d > 0."""
    records = sorted(tracking["records"], key=lambda r: r["step"])
    kl = [float(r["kl"]) for r in records]
    d = [math.sqrt(max(k, 0.0)) for k in kl]
    gold = [float(r["score"]) for r in records]
    curve = {
        "score": tracking.get("score"),
        "steps": [r["step"] for r in records],
        "kl": kl,
        "d": d,
        "gold": gold,
        "gold_se": [r.get("score_se") for r in records],
        "gold_gain": [g - gold[0] for g in gold],
        "fit": None,
    }
    if sum(x > 0 for x in d) >= 3:
        curve["fit"] = fit_gao(d, curve["gold_gain"], "rl").as_dict()
    return curve


# ---- the run -----------------------------------------------------------------------------------------------


def prompt_groups(items: Sequence[PromptItem], groups: dict[str, list[str]] | None) -> dict[str, np.ndarray]:
    """{"all": every prompt, group: prompts whose suite family is in the group's list}; empty groups dropped
    with a warning."""
    out = {"all": np.arange(len(items))}
    for name, families in (groups or {}).items():
        if name == "all":
            raise ValueError("groups: 'all' is reserved for every prompt")
        index = np.array([i for i, it in enumerate(items) if it.meta.get("family") in set(families)], dtype=int)
        if len(index) < 2:
            log.warning("prompt group %s has %d prompts (families %s): left out", name, len(index), families)
            continue
        out[name] = index
    return out


@dataclass
class OveroptResult:
    report: dict[str, Any]  # what overopt.json holds
    items: list[PromptItem]
    responses: list[list[str]]
    proxies: dict[str, np.ndarray]  # (prompts, n_max) per reward
    gold: np.ndarray  # (prompts, n_max)


def run_overopt(config: OveroptConfig, policy: Any = None) -> OveroptResult:
    """Sample (cached), score, compute the curves and fits, write the report (see the module docstring)."""
    started = time.time()
    out = Path(config.output_dir)
    report: dict[str, Any] = {
        "policy": config.policy,
        "n_max": config.n_max,
        "ns": config.best_of(),
        "gold": config.gold,
        "config": json.loads(json.dumps(asdict(config), default=str)),
    }
    items: list[PromptItem] = []
    responses: list[list[str]] = []
    proxies: dict[str, np.ndarray] = {}
    gold = np.zeros((0, config.n_max))
    timings: dict[str, Any] = {}
    if config.models or config.rewards:
        items = load_prompts(config.prompts)
        if len(items) < 2:
            raise ValueError(f"need at least 2 prompts, got {len(items)}")
        t = time.time()
        policy = policy or load_policy(config.policy)
        responses = generate(
            policy,
            [it.prompt for it in items],
            config.n_max,
            config.sampling,
            desc=f"sampling {config.n_max} per prompt",
        )
        del policy
        gc.collect()
        timings["sampling"] = round(time.time() - t, 1)
        t = time.time()
        scorer = SampleScorer(
            items,
            responses,
            batch_size=config.batch_size,
            trunk_cache=config.trunk_cache,
            trunk_cache_dir=config.trunk_cache_dir,
        )
        shape = (len(items), config.n_max)
        specs = model_specs(config.models)
        for name, path in specs.items():
            proxies[name] = scorer.checkpoint(path).reshape(shape)
        for path in config.rewards:
            stem = Path(path).stem
            for name, values in scorer.reward_yaml(
                path, holistic=config.holistic, stats_file=out / f"stats-{stem}.json", modes=config.combine_modes
            ).items():
                if name in proxies:
                    raise ValueError(f"two rewards named {name!r}; rename one")
                proxies[name] = values.reshape(shape)
        gold = scorer.gold(config.gold, out).reshape(shape)
        timings["scoring"] = round(time.time() - t, 1)
        names = {path: name for name, path in specs.items()}
        timings["checkpoints"] = {names.get(path, path): seconds for path, seconds in scorer.seconds.items()}
        timings["shared_trunks"] = len(scorer.trunks.caches) if scorer.trunks is not None else 0
        report["prompts"] = len(items)
        report["rewards"] = list(proxies)
        report["curves"] = curves(proxies, gold, items, config)
    else:
        report.update(prompts=0, rewards=[], curves={})
    if config.rl_runs:
        report["rl"] = {_run_label(d, report.get("rl", {})): rl_curve(load_rl_run(d)) for d in config.rl_runs}
    report["timings"] = timings
    report["seconds"] = round(time.time() - started, 1)
    write_outputs(out, report, items, responses, proxies, gold)
    return OveroptResult(report, items, responses, proxies, gold)


def _run_label(directory: str, taken: dict[str, Any]) -> str:
    folder = Path(directory.rstrip("/"))
    return folder.name if folder.name not in taken else str(folder)


def curves(
    proxies: dict[str, np.ndarray], gold: np.ndarray, items: Sequence[PromptItem], config: OveroptConfig
) -> dict[str, dict[str, Any]]:
    """{group: {reward: bon_curve}}, the same bootstrap replicates for every reward of a group (paired)."""
    out: dict[str, dict[str, Any]] = {}
    for group, index in prompt_groups(items, config.groups).items():
        replicates = bootstrap_indices(len(index), config.bootstrap, config.bootstrap_seed)
        out[group] = {
            name: bon_curve(p[index], gold[index], config.best_of(), replicates) for name, p in proxies.items()
        }
    return out


def write_outputs(
    out: Path,
    report: dict[str, Any],
    items: Sequence[PromptItem],
    responses: list[list[str]],
    proxies: dict[str, np.ndarray],
    gold: np.ndarray,
) -> None:
    from rewardkit.evaluation.overopt_report import markdown_report, plot_overopt

    write_json_atomic(out / "overopt.json", report)
    plot = None
    if report["curves"] or report.get("rl"):
        plot_overopt(
            report["curves"],
            out / "overopt.png",
            rl_runs=report.get("rl"),
            title=f"over-optimisation, policy {report['policy']}",
        )
        plot = "overopt.png"
    write_text_atomic(out / "overopt.md", markdown_report(report, plot))
    if items:
        write_jsonl_atomic(
            out / "scores.jsonl",
            (
                {
                    "prompt": it.prompt,
                    "meta": it.meta,
                    "responses": row,
                    "gold": gold[i].tolist(),
                    "scores": {name: p[i].tolist() for name, p in proxies.items()},
                }
                for i, (it, row) in enumerate(zip(items, responses))
            ),
        )
