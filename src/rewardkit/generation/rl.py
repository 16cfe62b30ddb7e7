"""Policy optimisation with TRL's GRPO or RLOO trainer, LoRA on the policy, any rewardkit reward.

    before = score of greedy responses of the base policy on held-out prompts (gold / holistic / reward)
    train  = GRPOTrainer | RLOOTrainer(policy, reward_funcs=[TRLRewardFunction(reward)], peft_config=LoRA)
    after  = the same score with the trained adapter merged

The reward is sequence level: GRPO and RLOO take one scalar per completion, so token-level aspect rewards are
summed (the paper's PPO places them on their tokens; TRL 1.16 has no PPO trainer). Missing normalisation stats
are measured first on samples of the initial policy for the training prompts.

The papers' RL settings (generation/rl_control.py): a KL term to the initial policy (`kl_coef`, fixed, or
adaptive towards `kl_target`), unscaled rewards for reward-model rewards (`scale_rewards`) and reward clipping
(`reward_clip`). rl.json holds the resolved config, the per-step `series` (reward, KL to the initial policy on
the training completions, ...) and, at regular steps, the KL to the initial policy and the held-out score of
sampled held-out responses (rl.json "tracking"; generation/rl_tracking.py), the series `rewardkit overopt
--rl-runs` plots. The run's config is also saved as `config.yaml` (rerun with `--config`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardkit.config import option
from rewardkit.files import write_json_atomic
from rewardkit.generation.prompts import PromptConfig, PromptItem, load_prompts
from rewardkit.generation.rl_control import (
    SCALE_REWARDS,
    AdaptiveKLCallback,
    resolve_scale_rewards,
    step_series,
    uses_reward_model,
)
from rewardkit.generation.rl_tracking import KLScoreTracker, TrackingConfig
from rewardkit.generation.sampling import Policy, SamplingConfig, generate, load_policy, model_fingerprint
from rewardkit.rewards.combinators import COMBINE_MODES, RewardFunction

log = logging.getLogger("rewardkit.generation")

ALGORITHMS = ("grpo", "rloo")
EVAL_REWARDS = ("auto", "gold", "holistic", "reward")


@dataclass
class RLTrainingConfig:
    """Trainer settings (per step: prompts_per_step prompts x num_generations completions)."""

    algorithm: str = option("grpo", "TRL trainer that optimises the policy.", choices=ALGORITHMS)
    steps: int = option(20, "Optimiser steps.")
    prompts_per_step: int = option(2, "Prompts per step.")
    num_generations: int = option(4, "Completions per prompt (the group of GRPO / RLOO baselines).")
    max_completion_length: int = option(48, "Most tokens per completion.")
    learning_rate: float = option(2e-4, "Learning rate of the policy's LoRA adapters.")
    kl_coef: float = option(0.1, "KL coefficient to the initial policy (TRL's beta; PCRM's fixed 0.1); 0: no KL term.")
    kl_target: float | None = option(None, "Adaptive KL: the controller's target sequence KL (nats); none: fixed.")
    kl_horizon: int = option(10000, "Adaptive KL horizon (completions).")
    scale_rewards: str = option(
        "auto", "Reward scaling: none, group, batch; auto: none for reward-model rewards.", choices=SCALE_REWARDS
    )
    reward_clip: float | None = option(None, "Clip rewards to [-c, c] (PCRM: 5); none: off.")
    temperature: float = option(1.0, "Sampling temperature of the completions.")
    lora_r: int = option(16, "LoRA rank of the policy.")
    lora_alpha: int = option(32, "LoRA scaling alpha of the policy.")
    lora_dropout: float = option(0.0, "LoRA dropout of the policy.")
    seed: int = option(0, "Training seed.")
    logging_steps: int = option(1, "Log every N steps.")

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")
        if self.steps < 1 or self.prompts_per_step < 1 or self.max_completion_length < 1:
            raise ValueError("steps, prompts_per_step and max_completion_length must be >= 1")
        if self.num_generations < 2:
            raise ValueError(f"num_generations must be >= 2 (group baselines), got {self.num_generations}")
        if self.learning_rate <= 0 or self.kl_coef < 0 or self.temperature <= 0:
            raise ValueError("learning_rate and temperature must be > 0, kl_coef >= 0")
        if self.scale_rewards not in SCALE_REWARDS:
            raise ValueError(f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, got {self.scale_rewards!r}")
        if self.reward_clip is not None and not self.reward_clip > 0:
            raise ValueError(f"reward_clip must be > 0 (or null: no clipping), got {self.reward_clip}")
        if self.kl_target is not None and (self.kl_target <= 0 or self.kl_coef <= 0):
            raise ValueError("adaptive KL (kl_target) needs kl_target > 0 and a starting kl_coef > 0")
        if self.kl_horizon < 1:
            raise ValueError(f"kl_horizon must be >= 1, got {self.kl_horizon}")


@dataclass
class HeldOutPrompts(PromptConfig):
    seed: int = option(
        2, "Seed of the held-out prompts (differs from the training prompts'; overlapping prompts are removed anyway)."
    )


@dataclass
class RLConfig:
    """`rewardkit rl` settings (flags or YAML)."""

    FLAG_NAMES = {
        "prompts.seed": "prompt-seed",
        "prompts.source": "prompts",
        "prompts.n_per_family": "n-per-family",
        "prompts.families": "families",
        "prompts.limit": "limit",
        "prompts.max_prompt_chars": "max-prompt-chars",
        "eval_prompts.seed": "eval-seed",
        "eval_prompts.source": "eval-prompts",
        "eval_prompts.n_per_family": "eval-n-per-family",
        "eval_prompts.families": "eval-families",
        "eval_prompts.limit": "eval-limit",
        "eval_prompts.max_prompt_chars": "eval-max-prompt-chars",
        "training.seed": "seed",
        "tracking.every": "track-every",
        "tracking.samples": "track-samples",
        "tracking.max_new_tokens": "track-max-new-tokens",
        "tracking.batch_size": "track-batch-size",
        "tracking.seed": "track-seed",
    }

    reward: str = option("", "Reward YAML (rewards/config.py, docs/alarm.md) the policy is trained on.")
    combine: str | None = option(None, "Override the reward's combine mode.", choices=COMBINE_MODES)
    holistic: str | None = option(None, "Override the reward's holistic model checkpoint.")
    stats_file: str | None = option(None, "Override where normalisation stats live; none: beside the reward YAML.")
    policy: str = option("smollm2-135m", "Policy to train (alias, directory or hub id).")
    eval_reward: str = option(
        "auto",
        "Score of the before / after comparison; auto: gold when the prompts have suite meta, else the holistic RM.",
        choices=EVAL_REWARDS,
    )
    eval_max_new_tokens: int = option(48, "Most tokens per evaluation response.")
    calibration_samples: int = option(2, "Samples per training prompt to calibrate missing normalisation stats.")
    output_dir: str = option("runs/rl", "Directory for the adapter, logs and the before / after report.")
    prompts: PromptConfig = field(default_factory=PromptConfig)
    eval_prompts: HeldOutPrompts = field(default_factory=HeldOutPrompts)
    training: RLTrainingConfig = field(default_factory=RLTrainingConfig)
    # KL to the initial policy and the held-out score at regular steps (rl.json "tracking"; generation/rl_tracking.py)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        if not self.reward:
            raise ValueError("reward: a reward YAML file is required (--reward FILE)")
        if self.combine is not None and self.combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {', '.join(COMBINE_MODES)}, got {self.combine!r}")
        if self.eval_reward not in EVAL_REWARDS:
            raise ValueError(f"eval_reward must be one of {', '.join(EVAL_REWARDS)}, got {self.eval_reward!r}")
        if self.eval_max_new_tokens < 1 or self.calibration_samples < 1:
            raise ValueError("eval_max_new_tokens and calibration_samples must be >= 1")


def eval_scorer(kind: str, reward: RewardFunction, items: Sequence[PromptItem]) -> tuple[str, Any]:
    """(name, fn(prompts, responses, metas) -> list[float]) of the before/after score."""
    from rewardkit.rewards.gold import GoldReward, has_gold

    if kind == "auto":
        kind = "gold" if has_gold([it.meta for it in items]) else "holistic" if reward.holistic else "reward"
    if kind == "gold":
        if not has_gold([it.meta for it in items]):
            raise ValueError("eval_reward gold needs suite prompts (gold meta)")
        return "gold", GoldReward().score
    if kind == "holistic":
        if reward.holistic is None:
            raise ValueError(f"eval_reward holistic: reward {reward.name} has no holistic component")
        return reward.holistic.name, reward.holistic.score
    return reward.name, reward


def policy_score(
    policy: Policy, items: Sequence[PromptItem], scorer: Any, max_new_tokens: int, cache: bool = False
) -> list[float]:
    """Score of the policy's greedy response to each prompt (`cache`: reuse cached generations of these files)."""
    prompts = [it.prompt for it in items]
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, cache_dir=None if cache else "off")
    responses = [row[0] for row in generate(policy, prompts, 1, sampling, greedy=True, desc="greedy eval")]
    return [float(v) for v in scorer(prompts, responses, [it.meta for it in items])]


def paired_change(before: Sequence[float], after: Sequence[float]) -> dict[str, float]:
    """Mean before / after over the same prompts, and the standard error of the mean paired difference."""
    diffs = [a - b for b, a in zip(before, after)]
    n = len(diffs)
    mean = sum(diffs) / n
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n) if n > 1 else math.nan
    return {"before": sum(before) / n, "after": sum(after) / n, "change": mean, "change_se": se}


def train_dataset(items: Sequence[PromptItem]) -> Any:
    from datasets import Dataset

    return Dataset.from_list([{"prompt": it.prompt, "meta": json.dumps(it.meta, ensure_ascii=False)} for it in items])


def build_trainer(
    policy: Policy,
    reward_fn: Any,
    items: Sequence[PromptItem],
    cfg: RLTrainingConfig,
    output_dir: str,
    callbacks: list[Any] | None = None,
    scale_rewards: str = "none",
) -> Any:
    """A TRL GRPO or RLOO trainer on CPU-friendly settings, LoRA on every linear layer of the policy;
    `scale_rewards` is resolved (none | group | batch; RLOO: none | batch)."""
    from peft import LoraConfig

    common = dict(
        output_dir=output_dir,
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        learning_rate=cfg.learning_rate,
        beta=cfg.kl_coef,
        temperature=cfg.temperature,
        top_k=0,
        top_p=1.0,
        logging_steps=cfg.logging_steps,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        bf16=False,
        fp16=False,
        use_cpu=not _has_accelerator(),
        dataloader_num_workers=0,
        gradient_accumulation_steps=1,
        disable_tqdm=False,
    )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
        bias="none",
    )
    if cfg.algorithm == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        return GRPOTrainer(
            model=policy.model,
            reward_funcs=[reward_fn],
            args=GRPOConfig(**common, scale_rewards=scale_rewards),
            train_dataset=train_dataset(items),
            processing_class=policy.tokenizer,
            peft_config=lora,
            callbacks=callbacks,
        )
    from trl import RLOOConfig, RLOOTrainer

    if scale_rewards == "group":
        raise ValueError("RLOO has no per-group reward scaling (generation/rl_control.py)")
    return RLOOTrainer(
        model=policy.model,
        reward_funcs=[reward_fn],
        args=RLOOConfig(**common, normalize_advantages=scale_rewards == "batch"),
        train_dataset=train_dataset(items),
        processing_class=policy.tokenizer,
        peft_config=lora,
        callbacks=callbacks,
    )


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def run_rl(config: RLConfig, reward: RewardFunction | None = None, policy: Policy | None = None) -> dict[str, Any]:
    """Before / train / after; writes config.yaml, rl.json and the LoRA adapter under output_dir."""
    from rewardkit.config import save_config
    from rewardkit.rewards.config import load_reward
    from rewardkit.rewards.trl_adapter import TRLRewardFunction

    started = time.time()
    reward = reward or load_reward(
        config.reward, combine=config.combine, holistic_path=config.holistic, stats_file=config.stats_file
    )
    cfg = config.training
    scale = resolve_scale_rewards(cfg.scale_rewards, cfg.algorithm, uses_reward_model(reward.components().values()))
    out = Path(config.output_dir)
    save_config(config, out / "config.yaml")
    log.info(
        "%s: KL coefficient %g (%s), reward scaling %s, reward clip %s",
        cfg.algorithm,
        cfg.kl_coef,
        f"adaptive, target {cfg.kl_target}" if cfg.kl_target else "fixed",
        scale,
        cfg.reward_clip,
    )
    train_items = load_prompts(config.prompts)
    eval_items = load_prompts(config.eval_prompts, exclude=train_items)
    if not train_items or not eval_items:
        raise ValueError(f"need training and held-out prompts, got {len(train_items)} and {len(eval_items)}")
    policy = policy or load_policy(config.policy)
    if reward.missing_stats():
        prompts = [it.prompt for it in train_items]
        samples = generate(
            policy,
            prompts,
            config.calibration_samples,
            SamplingConfig(max_new_tokens=cfg.max_completion_length, temperature=cfg.temperature, seed=cfg.seed),
            desc="calibration samples",
        )
        reward.calibrate(
            [p for p, row in zip(prompts, samples) for _ in row],
            [r for row in samples for r in row],
            [it.meta for it, row in zip(train_items, samples) for _ in row],
        )
    score_name, scorer = eval_scorer(config.eval_reward, reward, eval_items)
    before_scores = policy_score(policy, eval_items, scorer, config.eval_max_new_tokens, cache=True)
    log.info(
        "before training: %s = %.4f on %d held-out prompts",
        score_name,
        sum(before_scores) / len(before_scores),
        len(eval_items),
    )
    tracker = None
    if config.tracking.interval(cfg.steps):
        tracker = KLScoreTracker(
            config.tracking,
            eval_items,
            scorer,
            score_name,
            policy.tokenizer,
            steps=cfg.steps,
            temperature=cfg.temperature,
            max_new_tokens=cfg.max_completion_length,
            output_dir=out,
        )
    callbacks: list[Any] = [tracker] if tracker else []
    if cfg.kl_target is not None:
        callbacks.append(AdaptiveKLCallback(cfg.kl_target, cfg.kl_horizon, cfg.prompts_per_step * cfg.num_generations))
    reward_fn = TRLRewardFunction(reward, clip=cfg.reward_clip)
    trainer = build_trainer(
        policy, reward_fn, train_items, cfg, str(out / "trainer"), callbacks=callbacks or None, scale_rewards=scale
    )
    for callback in callbacks:
        if isinstance(callback, AdaptiveKLCallback):
            callback.trainer = trainer
    trainer.train()
    adapter_dir = out / "adapter"
    trainer.model.save_pretrained(str(adapter_dir))
    merged = trainer.model.merge_and_unload()
    merged.eval()
    trained = Policy(
        name=f"{policy.name}+{adapter_dir}",
        model=merged,
        tokenizer=policy.tokenizer,
        fingerprint=model_fingerprint([str(adapter_dir)]),
    )
    trained.tokenizer.padding_side = "left"
    after_scores = policy_score(trained, eval_items, scorer, config.eval_max_new_tokens)
    change = paired_change(before_scores, after_scores)
    log.info(
        "after training: %s = %.4f (change %+.4f, paired SE %.4f)",
        score_name,
        change["after"],
        change["change"],
        change["change_se"],
    )
    history = [h for h in trainer.state.log_history if "reward" in h]
    results = {
        **change,
        "before_scores": before_scores,
        "after_scores": after_scores,
        "score": score_name,
        "reward": reward.name,
        "combine": reward.settings.mode,
        "algorithm": cfg.algorithm,
        "train_prompts": len(train_items),
        "eval_prompts": len(eval_items),
        "steps": cfg.steps,
        "seconds": round(time.time() - started, 1),
        "train_reward_first": history[0]["reward"] if history else math.nan,
        "train_reward_last": history[-1]["reward"] if history else math.nan,
        "series": step_series(trainer.state.log_history, cfg.kl_coef, reward_fn.__name__),
        "log_history": trainer.state.log_history,
        "adapter": str(adapter_dir),
        "tracking": tracker.summary() if tracker else None,
        "settings": {
            "kl_coef": cfg.kl_coef,
            "kl": "adaptive" if cfg.kl_target else "fixed",
            "kl_target": cfg.kl_target,
            "scale_rewards": scale,
            "reward_clip": cfg.reward_clip,
        },
        "config": json.loads(json.dumps(asdict(config), default=str)),
    }
    write_json_atomic(out / "rl.json", results, default=str)
    return results
