"""The one composable objective: a reward term on the reward head plus a policy term on the LM head.

    loss = reward_weight * reward_term + policy_weight * policy_term (+ centering)

  bt   reward term only (Bradley-Terry; optional per-pair margin and reward centering)
  haf  reward term + alpha * policy term (HaF-RM, Liu et al. 2024): one backbone, two heads; with the
       reference-free policy losses `sft` / `dpo_noref` it is GRM (Yang et al. 2024, alpha 0.01)
  dpo  policy term only (DPO/IPO/hinge/dpo_noref), scored by the implicit reward beta * (log pi - log ref)

Either term can be replaced by the PCRM prior-constraint loss -log sig(d) - lambda log sig(delta* - d)
(Zhou et al. 2024), where delta* is a per-pair bound carried in the batch (`delta_reward`, `delta_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rewardkit.config import option
from rewardkit.objectives.losses import (
    POLICY_LOSSES,
    REFERENCE_FREE_LOSSES,
    bradley_terry_loss,
    center_rewards_penalty,
    implicit_margin,
    policy_preference_loss,
    prior_constraint_loss,
    reference_free_margin,
    sft_loss,
)

OBJECTIVES = ("bt", "haf", "dpo")
REFERENCE_MODES = ("precomputed", "adapter", "copy")
PRIORS = ("length", "cosine", "fixed", "random")
PRIOR_TARGETS = ("auto", "reward", "policy", "both")


@dataclass
class ObjectiveConfig:
    """What the trainer minimises. Defaults follow the papers (HaF: alpha 0.2, beta 0.1)."""

    objective: str = option(
        "bt",
        "What is trained: bt (Bradley-Terry reward head), haf (reward head + alpha * "
        "DPO on the LM head) or dpo (policy only, implicit reward).",
        choices=OBJECTIVES,
    )
    alpha: float = option(0.2, "haf: weight of the policy (DPO) term.")
    beta: float = option(0.1, "DPO temperature; the implicit reward is beta * (log pi - log ref).")
    policy_loss: str = option(
        "sigmoid",
        "Loss of the policy term: sigmoid (DPO), ipo, hinge, or GRM's "
        "reference-free sft (beta x NLL of the chosen response; haf only) and dpo_noref "
        "(DPO without a reference).",
        choices=POLICY_LOSSES,
    )
    label_smoothing: float = option(0.0, "Conservative DPO label smoothing (sigmoid loss only).")
    ipo_normalize: bool = option(
        False,
        "ipo: divide each response's log-ratio by its token count before the "
        "squared loss, as TRL does (confirmed with the IPO authors); false: summed "
        "log-ratios, so the loss grows with response length.",
    )
    use_margin: bool = option(False, "Subtract the data's per-pair margin inside the BT sigmoid (TRL style).")
    center_rewards_coefficient: float = option(0.0, "Weight of the (r_chosen + r_rejected)^2 centering penalty.")
    reference: str = option(
        "precomputed",
        "Reference policy log-probs: precomputed once, adapter (LoRA switched off) or copy (a frozen in-memory copy).",
        choices=REFERENCE_MODES,
    )
    prior: str | None = option(
        None,
        "PCRM prior-constraint similarity (none: off): length ratio, cosine of embeddings, a fixed or a random bound.",
        choices=PRIORS,
    )
    prior_on: str = option(
        "auto", "Which term the prior constrains; auto: reward for bt/haf, policy for dpo.", choices=PRIOR_TARGETS
    )
    b1: float | None = option(
        None, "PCRM bound delta* = b1 / (s + b2) + b3; none: the paper's default for the prior and form."
    )
    b2: float | None = option(None, "PCRM bound offset b2 (see b1); none: the paper's default.")
    b3: float | None = option(None, "PCRM bound shift b3 (see b1); none: the paper's default.")
    prior_lambda: float = option(1.0, "Weight of the PCRM upper-bound term.")
    fixed_delta: float = option(5.0, "prior=fixed: the same delta* for every pair.")
    random_delta_range: list[float] = option(
        help="prior=random: delta* drawn from U(low, high).", factory=lambda: [1.0, 10.0]
    )
    embedder: str = option("all-minilm-l6-v2", "prior=cosine: the sentence embedder (alias, path or hub id).")

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {self.objective!r}")
        if self.policy_loss not in POLICY_LOSSES:
            raise ValueError(f"policy_loss must be one of {POLICY_LOSSES}, not {self.policy_loss!r}")
        if self.reference not in REFERENCE_MODES:
            raise ValueError(f"reference must be one of {REFERENCE_MODES}, not {self.reference!r}")
        if self.prior is not None and self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS} or null, not {self.prior!r}")
        if self.prior_on not in PRIOR_TARGETS:
            raise ValueError(f"prior_on must be one of {PRIOR_TARGETS}, not {self.prior_on!r}")
        if self.policy_loss == "sft" and self.objective != "haf":
            raise ValueError(
                "policy_loss=sft (GRM's SFT regulariser) has no preference signal of its own: "
                "use it with objective=haf (reward term + alpha * SFT), not objective="
                f"{self.objective}"
            )
        if self.ipo_normalize and self.policy_loss != "ipo":
            raise ValueError(f"ipo_normalize applies to policy_loss=ipo, not {self.policy_loss!r}")
        if self.objective == "haf" and self.alpha < 0:
            raise ValueError("alpha must be >= 0")
        if self.beta <= 0:
            raise ValueError("beta must be > 0")
        if self.prior_lambda < 0:
            raise ValueError(f"prior_lambda must be >= 0, got {self.prior_lambda}")
        if len(self.random_delta_range) != 2 or self.random_delta_range[0] > self.random_delta_range[1]:
            raise ValueError(f"random_delta_range must be [low, high] with low <= high, got {self.random_delta_range}")

    @property
    def reward_weight(self) -> float:
        return 0.0 if self.objective == "dpo" else 1.0

    @property
    def policy_weight(self) -> float:
        return {"bt": 0.0, "haf": self.alpha, "dpo": 1.0}[self.objective]

    @property
    def default_head_init(self) -> str:
        """HaF-RM initialises the reward head to zero; plain RMs use a small normal init."""
        return "zero" if self.objective == "haf" else "normal"

    def prior_targets(self) -> set[str]:
        """Which terms carry the prior constraint: {"reward"}, {"policy"}, both, or none."""
        if self.prior is None:
            return set()
        if self.prior_on == "auto":
            return {"policy"} if self.objective == "dpo" else {"reward"}
        return {"reward", "policy"} if self.prior_on == "both" else {self.prior_on}


def _bound(batch: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in batch:
        raise ValueError(
            f"the prior constraint needs the per-pair bound {key!r} in the batch; "
            "compute it with rewardkit.data.priors.attach_prior_bounds"
        )
    return batch[key]


def _response_tokens(batch: dict[str, torch.Tensor], num_seqs: int) -> torch.Tensor:
    """Response tokens per sequence (chosen first, then rejected), counted from the batch's `logp_seq`."""
    if "logp_seq" not in batch:
        raise ValueError("ipo_normalize needs the batch's logp_seq (response-token sequence ids)")
    return torch.bincount(batch["logp_seq"], minlength=num_seqs).clamp(min=1).to(torch.float32)


@dataclass
class ObjectiveOutput:
    loss: torch.Tensor
    per_pair: dict[str, torch.Tensor]  # (P,) values to average for logging: losses, accuracies, margins
    rewards: torch.Tensor | None  # (2P,) reward-head outputs, for the reward mean/std metrics


class Objective:
    """Composes the loss terms the config asks for; see the module docstring."""

    def __init__(self, config: ObjectiveConfig):
        self.config = config
        targets = config.prior_targets()
        self.prior_on_reward = "reward" in targets and config.reward_weight > 0
        self.prior_on_policy = "policy" in targets and config.policy_weight > 0
        if targets and not (self.prior_on_reward or self.prior_on_policy):
            raise ValueError(f"prior_on={config.prior_on} names a term objective={config.objective} does not have")

    @property
    def needs_rewards(self) -> bool:
        return self.config.reward_weight > 0

    @property
    def needs_logps(self) -> bool:
        return self.config.policy_weight > 0

    @property
    def needs_reference(self) -> bool:
        """Reference log-probs: every policy loss but GRM's reference-free ones (sft, dpo_noref)."""
        return self.needs_logps and self.config.policy_loss not in REFERENCE_FREE_LOSSES

    def __call__(
        self,
        rewards: torch.Tensor | None,
        logps: torch.Tensor | None,
        ref_logps: torch.Tensor | None,
        batch: dict[str, torch.Tensor],
    ) -> ObjectiveOutput:
        cfg = self.config
        per_pair: dict[str, torch.Tensor] = {}
        loss = None
        if self.needs_rewards:
            chosen, rejected = rewards.chunk(2)
            margin = chosen - rejected
            if cfg.use_margin and "margin" not in batch:
                raise ValueError("use_margin is set but the batch has no per-pair 'margin' (every pair needs one)")
            if self.prior_on_reward:
                # use_margin shifts the lower target by the data's margin m: -log sig(d - m) - lam log sig(delta* - d)
                offset = batch["margin"] if cfg.use_margin else 0.0
                delta = _bound(batch, "delta_reward")
                term = prior_constraint_loss(margin - offset, delta - offset, cfg.prior_lambda)
                # share of pairs past the loss's optimum delta*/2 (with lambda = 1): where the bound pushes back
                per_pair["bound_reached"] = (margin > delta / 2).float().detach()
            else:
                term = bradley_terry_loss(chosen, rejected, batch.get("margin") if cfg.use_margin else None)
            per_pair["loss_reward"] = term.detach()
            if cfg.center_rewards_coefficient:
                center = center_rewards_penalty(chosen, rejected)
                per_pair["loss_center"] = center.detach()
                term = term + cfg.center_rewards_coefficient * center
            loss = cfg.reward_weight * term.mean()
            per_pair["accuracy"] = (margin > 0).float().detach()
            per_pair["margin"] = margin.detach()
        if self.needs_logps:
            pi_chosen, pi_rejected = logps.chunk(2)
            per_pair["logps_chosen"] = pi_chosen.detach()
            per_pair["logps_rejected"] = pi_rejected.detach()
            if self.needs_reference:
                ref_chosen, ref_rejected = ref_logps.chunk(2)
                if cfg.ipo_normalize:  # TRL: per-token log-ratios, so the IPO target 1/(2 beta) ignores length
                    counts = _response_tokens(batch, logps.numel()).chunk(2)
                    pi_chosen, ref_chosen = pi_chosen / counts[0], ref_chosen / counts[0]
                    pi_rejected, ref_rejected = pi_rejected / counts[1], ref_rejected / counts[1]
                h = implicit_margin(pi_chosen, pi_rejected, ref_chosen, ref_rejected)
            else:
                h = reference_free_margin(pi_chosen, pi_rejected)
            if self.prior_on_policy:
                delta = _bound(batch, "delta_policy")
                term = prior_constraint_loss(cfg.beta * h, delta, cfg.prior_lambda)
                per_pair["bound_reached_policy"] = (cfg.beta * h > delta / 2).float().detach()
            elif cfg.policy_loss == "sft":
                term = sft_loss(pi_chosen, cfg.beta)
            else:
                term = policy_preference_loss(h, cfg.beta, cfg.policy_loss, cfg.label_smoothing)
            per_pair["loss_policy"] = term.detach()
            per_pair["implicit_accuracy"] = (h > 0).float().detach()
            per_pair["implicit_margin"] = (cfg.beta * h).detach()
            weighted = cfg.policy_weight * term.mean()
            loss = weighted if loss is None else loss + weighted
        return ObjectiveOutput(loss=loss, per_pair=per_pair, rewards=rewards.detach() if rewards is not None else None)
