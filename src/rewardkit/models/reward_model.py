"""RewardModel: a causal-LM backbone with a scalar reward head, keeping the LM head for hybrid objectives.

One forward over a batch of sequences gives, on request:
  - rewards: the reward head applied to the final hidden state at given positions (the last token of each
    conversation, data/encoding.py); vocabulary logits are never computed for this;
  - response log-probs: the LM head applied only at positions that predict response tokens, summed per
    sequence.
Positions are flat indices into the (rows × time) hidden-state grid, so padded batches (one sequence per
row) and packed batches (several sequences per row) use the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rewardkit.config import option
from rewardkit.models.decoder import mask_for_attention, top_hidden_states

LOGP_CHUNK = 4096  # response positions per LM-head chunk: bounds the (chunk × vocab) logits buffer


TUNING_MODES = ("full", "lora", "top_layers")
HEAD_INITS = ("normal", "zero")
DTYPES = ("float32", "bfloat16", "float16", "auto")


@dataclass
class ModelConfig:
    """Which backbone, which parameters train, how the reward head starts."""

    name: str = option(
        "smollm2-135m",
        "Backbone to train or reward model to load: a built-in alias, a local checkpoint directory or a hub id.",
    )
    tuning: str = option(
        "lora",
        "Which parameters train: all (full), LoRA adapters plus the heads (lora), or the "
        "top layers plus final norm and heads (top_layers).",
        choices=TUNING_MODES,
    )
    lora_r: int = option(16, "LoRA rank.")
    lora_alpha: int = option(32, "LoRA scaling alpha (the update is scaled by alpha / r).")
    lora_dropout: float = option(0.0, "Dropout on the LoRA adapters' input.")
    lora_target_modules: list[str] | str = option(
        "all-linear", "Modules that get LoRA adapters: a list of names or 'all-linear'."
    )
    top_layers: int = option(4, "With tuning=top_layers: how many final decoder layers train.")
    untie_lm_head: bool = option(
        False,
        "Policy terms (haf, dpo, grm) with lora / top_layers tuning: train an "
        "untied copy of the LM head. A tied head (SmolLM2, Gemma, ...) is the input "
        "embedding matrix and stays frozen otherwise; the copy trains while the embeddings "
        "stay frozen, so the frozen-trunk cache stays valid.",
    )
    head_init: str | None = option(
        None,
        "Initialisation of a fresh reward head; none: the objective's default "
        "(zero for haf, as in the paper, else normal).",
        choices=HEAD_INITS,
    )
    head_init_std: float | None = option(None, "Std of a normal head init; none: 1/sqrt(hidden_size + 1).")
    dtype: str = option("float32", "Weights' dtype (auto: bf16 on a capable GPU, else fp32).", choices=DTYPES)
    attn_implementation: str | None = option(
        "sdpa",
        "transformers attention implementation, e.g. sdpa, eager, "
        "flex_attention, flash_attention_2 (packed rows need sdpa or eager).",
    )
    gradient_checkpointing: bool = option(False, "Recompute activations in the backward pass to save memory.")
    trust_remote_code: bool = option(False, "Allow model code from the checkpoint's repository to run.")
    cache_trunk: bool = option(
        False, "With tuning=top_layers: compute the frozen bottom layers' output once per pair (models/trunk_cache.py)."
    )
    trunk_cache_dir: str | None = option(None, "Directory where cache_trunk keeps states on disk; none: memory only.")

    def __post_init__(self) -> None:
        if self.tuning not in TUNING_MODES:
            raise ValueError(f"model.tuning must be one of {TUNING_MODES}, not {self.tuning!r}")
        if self.head_init not in (None, *HEAD_INITS):
            raise ValueError(f"model.head_init must be one of {HEAD_INITS}, not {self.head_init!r}")
        if self.cache_trunk and self.tuning != "top_layers":
            raise ValueError(f"model.cache_trunk needs model.tuning=top_layers, not {self.tuning!r}")


def torch_dtype(name: str) -> torch.dtype:
    if name == "auto":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    except KeyError:
        raise ValueError(f"unknown dtype {name!r} (float32, bfloat16, float16, auto)") from None


def init_reward_head(head: nn.Linear, how: str, std: float | None = None) -> None:
    if how == "zero":
        nn.init.zeros_(head.weight)
    else:
        nn.init.normal_(head.weight, std=std if std is not None else 1.0 / math.sqrt(head.in_features + 1))


class RewardModel(nn.Module):
    """backbone (decoder, maybe LoRA-wrapped) + score (hidden → 1, no bias) + optional lm_head."""

    accepts_loss_kwargs = False  # the objective returns a per-batch mean: Trainer must scale it for accumulation

    def __init__(self, backbone: nn.Module, score: nn.Linear, lm_head: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.score = score
        self.lm_head = lm_head

    # ---- structure -------------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        return self.base_backbone.config

    @property
    def base_backbone(self) -> nn.Module:
        """The decoder without a PEFT wrapper (its modules carry the adapters in place)."""
        get_base = getattr(self.backbone, "get_base_model", None)
        return get_base() if callable(get_base) else self.backbone

    @property
    def is_peft(self) -> bool:
        return callable(getattr(self.backbone, "disable_adapter", None))

    @property
    def _no_split_modules(self) -> list[str] | None:  # lets accelerate/FSDP find the layer class to wrap
        return getattr(self.base_backbone, "_no_split_modules", None)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        self.base_backbone.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=gradient_checkpointing_kwargs or {"use_reentrant": False}
        )
        if self.is_peft:
            self.base_backbone.enable_input_require_grads()

    # ---- computation -----------------------------------------------------------------------------
    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if attention_mask is not None and attention_mask.dim() == 4:
            attention_mask = mask_for_attention(
                attention_mask, self.config._attn_implementation, self.score.weight.dtype
            )
        out = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        )
        return out.last_hidden_state

    def rewards_at(self, hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Reward head on flat positions of a (rows, time, hidden) grid → float32 (len(positions),)."""
        flat = hidden.reshape(-1, hidden.shape[-1])
        return self.score(flat.index_select(0, positions)).squeeze(-1).float()

    def sequence_logps(
        self, hidden: torch.Tensor, positions: torch.Tensor, targets: torch.Tensor, seq_ids: torch.Tensor, num_seqs: int
    ) -> torch.Tensor:
        """Sum of log p(target | hidden at position) per sequence; the LM head runs only on `positions`."""
        if self.lm_head is None:
            raise RuntimeError(
                "this model has no LM head (loaded as a reward model only); policy log-probs need the policy checkpoint"
            )
        flat = hidden.reshape(-1, hidden.shape[-1])
        token_logps = []
        for start in range(0, positions.numel(), LOGP_CHUNK):
            pos = positions[start : start + LOGP_CHUNK]
            logits = self.lm_head(flat.index_select(0, pos)).float()
            tgt = targets[start : start + LOGP_CHUNK]
            token_logps.append(torch.log_softmax(logits, dim=-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1))
        per_token = torch.cat(token_logps) if token_logps else hidden.new_zeros(0, dtype=torch.float32)
        return per_token.new_zeros(num_seqs).index_add(0, seq_ids, per_token)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        reward_positions: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        logp_positions: torch.Tensor | None = None,
        logp_targets: torch.Tensor | None = None,
        logp_seq: torch.Tensor | None = None,
        need_rewards: bool = True,
        need_logps: bool = False,
        trunk_states: torch.Tensor | None = None,
        trunk_depth: int | None = None,
        **_: Any,
    ) -> dict[str, torch.Tensor]:
        """Returns {"rewards": (S,)} and/or {"logps": (S,)} for the S sequences named by reward_positions.

        With `trunk_states` (cached output of the frozen layers below `trunk_depth`, models/trunk_cache.py)
        only the layers from `trunk_depth` up run."""
        if trunk_states is not None:
            hidden = top_hidden_states(self.base_backbone, trunk_states, trunk_depth, attention_mask, position_ids)
        else:
            hidden = self.hidden_states(input_ids, attention_mask, position_ids)
        out: dict[str, torch.Tensor] = {}
        num_seqs = reward_positions.numel()
        if need_rewards:
            out["rewards"] = self.rewards_at(hidden, reward_positions)
        if need_logps:
            out["logps"] = self.sequence_logps(hidden, logp_positions, logp_targets, logp_seq, num_seqs)
        return out

    @torch.no_grad()
    def reference_logps(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Log-probs with LoRA adapters switched off (the starting policy), without gradient."""
        if not self.is_peft:
            raise RuntimeError("reference mode 'adapter' needs LoRA tuning (model.tuning=lora)")
        with self.backbone.disable_adapter():
            return self(**batch, need_rewards=False, need_logps=True)["logps"]
