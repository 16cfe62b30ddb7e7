"""Scoring many sampled (prompt, response) items with reward-model checkpoints, the shared bottom layers once.

Responses are scored as pseudo-pairs: consecutive responses to the same prompt become one packed pair (the
prompt once, then both responses; data/packing.py), an unpaired one is paired with itself (one extra token).
So `evaluation.scoring.score_pairs` and the frozen-trunk cache (models/trunk_cache.py) serve single
responses unchanged.

`SharedTrunks` gives every checkpoint the trunk cache of its (base model, shared depth): a checkpoint trained
with top_layers tuning from `base_model` (recorded in its rewardkit.json) has the base's embeddings and bottom
layers, found by comparing per-layer weight fingerprints. All checkpoints of one (base, depth) read the same
cached bottom-layer states, computed once per response, so an extra reward model costs only its top layers.
Checkpoints that share nothing (LoRA or full fine-tuning, another base, no recorded base) are scored with the
full forward, and the log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.data.encoding import EncodedPair
from rewardkit.data.record import Message

log = logging.getLogger("rewardkit.evaluation")


def response_pairs(
    scorer: Any, prompts: Sequence[list[Message]], responses: Sequence[str]
) -> tuple[list[EncodedPair], list[tuple[int, int]]]:
    """Pseudo-pairs of consecutive items with the same encoded prompt, and the items each pair holds
    (chosen, rejected; equal for an item paired with itself)."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    encoder = scorer.encoder()
    encoded = [encoder.encode_single(list(p), r) for p, r in zip(prompts, responses)]
    pairs: list[EncodedPair] = []
    slots: list[tuple[int, int]] = []
    i = 0
    while i < len(encoded):
        j = i + 1 if i + 1 < len(encoded) and encoded[i + 1][0] == encoded[i][0] else i
        pairs.append(EncodedPair(encoded[i][0], encoded[i][1], encoded[j][1], index=len(pairs)))
        slots.append((i, j))
        i = j + 1
    return pairs, slots


def score_responses(
    scorer: Any,
    prompts: Sequence[list[Message]],
    responses: Sequence[str],
    *,
    trunk_cache: Any = None,
    batch_size: int = 16,
) -> np.ndarray:
    """The scorer's primary reward (its reward head, else the implicit reward of a DPO policy) of every item.

    `trunk_cache`: a TrunkCache whose trunk the scorer's model shares (`SharedTrunks.cache_for`): only the
    top layers run. The implicit reward's reference log-probs are precomputed through the same trunk when the
    reference shares it, and disk-cached (evaluation.suites.cached_reference).
    """
    from rewardkit.evaluation.scoring import score_pairs
    from rewardkit.evaluation.suites import cached_reference

    if not responses:
        return np.zeros(0)
    pairs, slots = response_pairs(scorer, prompts, responses)
    collate = None
    if trunk_cache is not None:
        trunk_cache.ensure(scorer.model, pairs, batch_size=batch_size, progress=False)
        collate = trunk_cache.collator(scorer.tokenizer.pad_token_id)
    reference = None
    if not scorer.reward_head:
        if scorer.reference is None:
            raise ValueError(f"{scorer.name} has no reward head and no reference policy for its implicit reward")
        reference = cached_reference(scorer, pairs, batch_size, None, trunk_cache)
    scores = score_pairs(
        scorer.model,
        pairs,
        collate,
        batch_size=batch_size,
        reward_head=scorer.reward_head,
        reference=reference,
        beta=scorer.beta,
        desc=f"scoring with {scorer.name}",
    )
    first, second = (
        (scores.chosen, scores.rejected) if scorer.reward_head else (scores.implicit_chosen, scores.implicit_rejected)
    )
    out = np.full(len(responses), np.nan)
    for pair_index, a, b in zip(scores.index.tolist(), first.double().tolist(), second.double().tolist()):
        i, j = slots[pair_index]
        out[i], out[j] = (a, b) if i != j else (a, a)
    if not np.all(np.isfinite(out)):
        bad = np.flatnonzero(~np.isfinite(out))[:5].tolist()
        raise ValueError(f"{scorer.name}: non-finite or missing score for item(s) {bad}")
    return out


class SharedTrunks:
    """The trunk caches of a set of checkpoints, one per (base model, shared depth, attention)."""

    def __init__(self, directory: str | Path | None = None, dtype: str = "float32"):
        self.directory = directory
        self.dtype = dtype
        self.caches: dict[tuple[str, int, str | None], Any] = {}
        self._base_layers: dict[str, list[str]] = {}

    def base_layers(self, base: str) -> list[str]:
        """Per-layer fingerprints of the base model (loaded once, then freed)."""
        if base not in self._base_layers:
            from rewardkit.models.loading import build_reward_model
            from rewardkit.models.reward_model import ModelConfig
            from rewardkit.models.trunk_cache import layer_fingerprints

            model = build_reward_model(ModelConfig(name=base, tuning="full", dtype=self.dtype), keep_lm_head=False)
            self._base_layers[base] = layer_fingerprints(model)
            del model
        return self._base_layers[base]

    def cache_for(self, scorer: Any) -> Any:
        """The TrunkCache `scorer.model` shares with the other checkpoints of its base, or None (logged why)."""
        from rewardkit.models.registry import ModelResolutionError
        from rewardkit.models.trunk_cache import TrunkCache, TrunkError, layer_fingerprints, shared_trunk_depth

        base = scorer.metadata.get("base_model")
        if not base:
            log.info("%s records no base model: scored with the full forward", scorer.name)
            return None
        try:
            own = layer_fingerprints(scorer.model)
            depth = shared_trunk_depth(own, self.base_layers(str(base)))
        except (TrunkError, ModelResolutionError, OSError) as e:
            log.info("%s: no shared trunk (%s); scored with the full forward", scorer.name, e)
            return None
        layers = len(own) - 1
        depth = min(depth, layers - 1)  # at least the top layer runs on the cached states
        if depth < 1:
            log.info(
                "%s shares no frozen layers with its base %s (LoRA or full fine-tuning?): scored with the full forward",
                scorer.name,
                base,
            )
            return None
        key = (str(base), depth, scorer.model.config._attn_implementation)
        if key not in self.caches:
            self.caches[key] = TrunkCache.for_model(scorer.model, layers - depth, self.directory)
            log.info("frozen-trunk cache for %s: the bottom %d of %d layers run once per response", base, depth, layers)
        return self.caches[key]
