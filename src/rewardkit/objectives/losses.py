"""Pure loss functions. Each returns one value per pair (shape (P,)); callers take the mean.

Notation: for a pair, r_w / r_l are the rewards of the chosen / rejected response; logp_* are summed
response log-probs under the policy (pi) and the frozen reference (ref).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICY_LOSSES = ("sigmoid", "ipo", "hinge", "sft", "dpo_noref")
REFERENCE_FREE_LOSSES = ("sft", "dpo_noref")  # GRM's regularisers (Yang et al. 2024): no reference model


def bradley_terry_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, margin: torch.Tensor | None = None
) -> torch.Tensor:
    """-log sigmoid(r_w - r_l - margin): Bradley-Terry; `margin` is TRL's optional per-pair margin column."""
    diff = chosen - rejected
    if margin is not None:
        diff = diff - margin
    return -F.logsigmoid(diff)


def center_rewards_penalty(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """(r_w + r_l)^2: pushes rewards towards mean zero (Eisenstein et al. 2023; TRL's center_rewards)."""
    return (chosen + rejected) ** 2


def implicit_margin(
    pi_chosen: torch.Tensor, pi_rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor
) -> torch.Tensor:
    """h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l)); the DPO reward margin is beta * h."""
    return (pi_chosen - ref_chosen) - (pi_rejected - ref_rejected)


def policy_preference_loss(
    h: torch.Tensor, beta: float, loss_type: str = "sigmoid", label_smoothing: float = 0.0
) -> torch.Tensor:
    """Preference loss on the implicit margin h.

    sigmoid (DPO, Rafailov et al. 2023): -(1-eps) log sig(beta h) - eps log sig(-beta h)
    ipo (Azar et al. 2023):               (h - 1/(2 beta))^2
    hinge (SLiC, Zhao et al. 2023):       max(0, 1 - beta h)
    dpo_noref (GRM, Yang et al. 2024):    the sigmoid loss on h = log pi(y_w) - log pi(y_l) (no reference)
    """
    if loss_type in ("sigmoid", "dpo_noref"):
        return -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    if loss_type == "ipo":
        return (h - 1 / (2 * beta)) ** 2
    if loss_type == "hinge":
        return torch.relu(1 - beta * h)
    raise ValueError(f"unknown policy loss {loss_type!r} (expected one of {POLICY_LOSSES})")


def sft_loss(pi_chosen: torch.Tensor, beta: float) -> torch.Tensor:
    """GRM's SFT regulariser (Yang et al. 2024, their code's default form): -log sig(beta * log pi(y_w)).

    log pi(y_w) is the summed log-likelihood of the chosen response, so while its NLL is well above 1/beta the
    loss equals beta * NLL (the negative log-likelihood of the chosen response, scaled by beta); the
    log-sigmoid only keeps its scale comparable with the DPO losses.
    """
    return -F.logsigmoid(beta * pi_chosen)


def reference_free_margin(pi_chosen: torch.Tensor, pi_rejected: torch.Tensor) -> torch.Tensor:
    """log pi(y_w) - log pi(y_l): the margin of DPO without a reference (GRM's `dpo_noref`, SimPO-style)."""
    return pi_chosen - pi_rejected


def prior_bound(similarity: torch.Tensor, b1: float, b2: float, b3: float) -> torch.Tensor:
    """PCRM's per-pair upper bound on the margin: delta* = b1 / (s + b2) + b3 (no gradient)."""
    return (b1 / (similarity + b2) + b3).detach()


def prior_constraint_loss(d: torch.Tensor, delta: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """PCRM (Zhou et al. 2024): -log sig(d) - lambda * log sig(delta* - d).

    The first term wants a large margin d, the second caps it near delta*: with lambda = 1 the loss is
    minimal at d = delta* / 2 (its derivative sig(delta*-d) - sig(d) vanishes there).
    """
    return -F.logsigmoid(d) - lam * F.logsigmoid(delta - d)
