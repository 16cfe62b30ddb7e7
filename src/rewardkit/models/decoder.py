"""The parts of an HF decoder that rewardkit reaches into: its layer stack, the 4D packed-row mask in the form
its attention reads, and the forward pass from a layer upwards (the frozen-trunk cache's top half).

Used by reward_model.py (forward), loading.py (top_layers tuning) and trunk_cache.py; imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class TrunkError(RuntimeError):
    """The frozen-trunk cache cannot be used (unsupported model, mismatched weights, missing pairs)."""


def layer_stack(decoder: nn.Module) -> nn.ModuleList:
    """The decoder's stack of transformer blocks (the largest ModuleList)."""
    lists = [m for m in decoder.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ValueError(f"cannot find the layer stack of {type(decoder).__name__} for top_layers tuning")
    return max(lists, key=len)


def mask_for_attention(mask: torch.Tensor, attn_implementation: str | None, dtype: torch.dtype) -> torch.Tensor:
    """A custom 4D boolean mask (True = attend; packed rows) in the form the attention implementation reads.

    transformers passes 4D masks through untouched: SDPA takes booleans; eager and flex attention add the
    mask to the scores, so they get 0 / -inf-like floats; flash-attention kernels take no custom mask.
    """
    if mask.dtype != torch.bool:
        return mask  # already additive
    impl = attn_implementation or "eager"
    if impl == "sdpa":
        return mask
    if "flash" in impl:
        raise ValueError(
            f"attn_implementation={impl!r} cannot take the 4D mask of packed rows; "
            "use sdpa or eager, or turn packing off (data.packing=false)"
        )
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, torch.finfo(dtype).min)


@dataclass(frozen=True)
class TrunkParts:
    """The pieces of a decoder the trunk split needs."""

    decoder: nn.Module
    layers: nn.ModuleList
    rotary_emb: nn.Module
    norm: nn.Module


def trunk_parts(decoder: nn.Module) -> TrunkParts:
    """The decoder's layer stack (found as for top_layers tuning), rotary embedding and final norm."""
    missing = [name for name in ("layers", "rotary_emb", "norm") if getattr(decoder, name, None) is None]
    if missing:
        raise TrunkError(
            f"{type(decoder).__name__} has no {', '.join(missing)}: the frozen-trunk cache supports "
            "HF decoders with .layers, .rotary_emb and .norm (Llama, Qwen2, Mistral, ...); "
            "set model.cache_trunk=false"
        )
    layers = layer_stack(decoder)
    if layers is not decoder.layers:
        raise TrunkError(
            f"{type(decoder).__name__}: its largest ModuleList is not .layers; "
            "the frozen-trunk cache cannot tell which layers top_layers tuning trains"
        )
    return TrunkParts(decoder, layers, decoder.rotary_emb, decoder.norm)


def top_tensor_ids(parts: TrunkParts, depth: int) -> set[int]:
    """ids of the tensors above the trunk: layers[depth:] and the final norm."""
    top = list(parts.layers[depth:]) + [parts.norm]
    return {id(t) for m in top for t in (*m.parameters(), *m.buffers())}


def top_hidden_states(
    decoder: nn.Module, trunk_states: torch.Tensor, depth: int, attention_mask: torch.Tensor, position_ids: torch.Tensor
) -> torch.Tensor:
    """Final hidden states from the trunk output: layers[depth:] (the model's own rotary embedding from
    position_ids, the 4D packed mask as the full forward passes it), then the final norm."""
    parts = trunk_parts(decoder)
    if depth is None or not 0 <= depth < len(parts.layers):
        raise TrunkError(f"trunk_depth={depth} is outside the {len(parts.layers)} layers of the model")
    if attention_mask.dim() != 4 or position_ids is None:
        raise TrunkError("trunk_states need packed batches (4D block mask and position_ids; data.packing=true)")
    if torch.is_grad_enabled():
        _require_frozen(parts, depth)
    dtype = parts.norm.weight.dtype if getattr(parts.norm, "weight", None) is not None else trunk_states.dtype
    hidden = trunk_states.to(dtype)
    mask = mask_for_attention(attention_mask, decoder.config._attn_implementation, dtype)
    position_embeddings = parts.rotary_emb(hidden, position_ids=position_ids)
    for layer in parts.layers[depth:]:
        hidden = layer(
            hidden,
            attention_mask=mask,
            position_embeddings=position_embeddings,
            position_ids=position_ids,
            past_key_values=None,
            use_cache=False,
        )
        if isinstance(hidden, tuple):  # older decoder layers return (hidden, ...)
            hidden = hidden[0]
    return parts.norm(hidden)


def _require_frozen(parts: TrunkParts, depth: int) -> None:
    skip = top_tensor_ids(parts, depth)
    for name, p in parts.decoder.named_parameters():
        if p.requires_grad and id(p) not in skip:
            raise TrunkError(
                f"{name} trains, so the trunk below layer {depth} is not frozen and its output "
                "cannot be cached (model.cache_trunk needs tuning=top_layers)"
            )
