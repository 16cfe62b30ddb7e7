"""The papers' RL settings on TRL's GRPO / RLOO trainers: reward scaling, adaptive KL, the per-step series.

Reward scaling (`scale_rewards`): GRPO divides each group's advantages by the group's reward std (`group`, TRL's
default), by the batch's (`batch`) or not at all (`none`); RLOO in TRL 1.16 uses unscaled leave-one-out
advantages and can only normalise them over the batch (`normalize_advantages`, our `batch`). Scaling erases the
reward's scale, which is what PCRM's bounded margins act on, so `auto` is `none` for rewards with a reward-model
component (and for RLOO), `group` otherwise.

KL: TRL's `beta` is a fixed coefficient (GRPO: a per-token k3 KL term in the loss; RLOO: beta times the summed
log-ratio subtracted from each reward, as in PPO-style RLHF); with a LoRA policy the reference is the policy with
its adapter off, i.e. the initial policy. TRL has no adaptive KL controller, which ALaRM's PPO used;
`AdaptiveKLCallback` is Ziegler et al.'s (2019) controller, as TRL's former PPOTrainer had it:

    e = clip(KL_seq / target - 1, -0.2, 0.2);   beta <- beta * (1 + e * n / horizon)

with KL_seq the mean sequence-level KL of the step's completions (TRL's logged per-token KL times the mean
completion length) and n the step's number of completions.

Per-step series (rl.json "series"): TRL logs every step (logging_steps 1) its mean reward (as returned by the
reward function, i.e. after clipping, before the KL penalty) and, when beta > 0, the mean per-token KL to the
reference on the step's completions; `step_series` collects them, with the sequence-level KL, the completion
length, the coefficient used and the reward function's own logs (unclipped mean, clipped and degenerate shares).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

from transformers import TrainerCallback

log = logging.getLogger("rewardkit.generation")

SCALE_REWARDS = ("auto", "none", "group", "batch")


def uses_reward_model(components: Iterable[Any]) -> bool:
    """Whether any component is a (loaded-on-demand) reward model checkpoint rather than a metric or scorer."""
    return any(hasattr(c, "path") and callable(getattr(c, "load", None)) for c in components)


def resolve_scale_rewards(scale: str, algorithm: str, model_reward: bool) -> str:
    """`auto` -> `none` (reward-model rewards, RLOO) or `group`; RLOO cannot scale per group."""
    if scale not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, got {scale!r}")
    if scale == "auto":
        return "none" if model_reward or algorithm == "rloo" else "group"
    if algorithm == "rloo" and scale == "group":
        raise ValueError(
            "scale_rewards group: TRL's RLOO has no per-group scaling (its advantages are unscaled "
            "leave-one-out differences); use none, or batch (normalize_advantages)"
        )
    return scale


def adaptive_kl_update(coef: float, kl: float, target: float, n: int, horizon: int) -> float:
    """One step of the adaptive KL controller (module docstring)."""
    error = min(0.2, max(-0.2, kl / target - 1.0))
    return coef * (1.0 + error * n / horizon)


def sequence_kl(entry: dict[str, Any]) -> float | None:
    """Mean sequence-level KL of a TRL log entry: its per-token KL times the mean completion length."""
    kl, length = entry.get("kl"), entry.get("completions/mean_length")
    if kl is None or length is None:
        return None
    return float(kl) * float(length)


class AdaptiveKLCallback(TrainerCallback):
    """Adapts the trainer's KL coefficient after every logged step; records the coefficient each step used
    (`kl_coef` in the log history). Set `trainer` before training."""

    def __init__(self, target: float, horizon: int, completions_per_step: int):
        if not (target > 0 and horizon >= 1 and completions_per_step >= 1):
            raise ValueError("adaptive KL needs target > 0, horizon >= 1 and completions_per_step >= 1")
        self.target = target
        self.horizon = horizon
        self.n = completions_per_step
        self.trainer: Any = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if self.trainer is None or not logs or "reward" not in logs:
            return
        used = float(self.trainer.beta)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1]["kl_coef"] = used
        kl = sequence_kl(logs)
        if kl is None or not math.isfinite(kl):
            return
        self.trainer.beta = adaptive_kl_update(used, kl, self.target, self.n, self.horizon)
        log.debug(
            "step %d: sequence KL %.4f, KL coefficient %.5f -> %.5f", state.global_step, kl, used, self.trainer.beta
        )


def step_series(log_history: Sequence[dict[str, Any]], kl_coef: float, reward_name: str) -> dict[str, list[Any]]:
    """Per-step lists from TRL's log history (entries with a `reward`): see the module docstring."""
    rows = [h for h in log_history if "reward" in h and "step" in h]
    prefix = f"rewards/{reward_name}/"

    def column(key: str) -> list[Any]:
        return [h.get(key) for h in rows]

    series: dict[str, list[Any]] = {
        "step": column("step"),
        "reward": column("reward"),
        "reward_std": column("reward_std"),
        "kl": column("kl"),
        "kl_sequence": [sequence_kl(h) for h in rows],
        "kl_coef": [h.get("kl_coef", kl_coef) for h in rows],
        "completion_length": column("completions/mean_length"),
    }
    for extra in ("unclipped", "clipped_share", "degenerate_share"):
        if any(prefix + extra in h for h in rows):
            series[f"reward_{extra}" if extra == "unclipped" else extra] = column(prefix + extra)
    return series
