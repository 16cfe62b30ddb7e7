"""PCRM prior similarities and margin bounds (Zhou et al. 2024, arXiv 2404.00978), computed once per pair.

A prior similarity s of the two responses of a pair sets an upper bound on their margin,

    delta* = b1 / (s + b2) + b3        (no gradient; similar responses → small bound)

which the prior-constraint loss -log sig(d) - lambda log sig(delta* - d) uses (objectives/losses.py).
Similarities:
  length  shorter / longer token count of the parts of prompt+chosen and prompt+rejected after their
          common prefix, EOS included (1 when identical) — from the encoded token ids;
  cosine  cosine c of sentence embeddings of prompt + response, clamped to [0, 1]; the reward-model form
          is s = 1 - arccos(c) / pi, the DPO (policy) form is s = c, as in the authors' code. The raw
          cosines come from the caller (`rewardkit.models.embedder.pair_cosines` embeds `pair_texts`):
          this data-level module computes no embeddings.
Ablations: `fixed` (delta* = fixed_delta for every pair) and `random` (delta* ~ U(lo, hi), drawn per pair
from a seed and the pair's index, so it does not depend on batch order).

`attach_prior_bounds` writes `delta_reward` / `delta_policy` (and `prior_similarity`) into
`EncodedPair.extras`; the collator turns them into batch tensors and `Objective` reads them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rewardkit.data.encoding import PLAIN_GENERATION_PROMPT, PLAIN_ROLE_PREFIX, EncodedPair
from rewardkit.data.packing import common_prefix_length
from rewardkit.data.record import DataError, Message, PreferencePair
from rewardkit.objectives.objective import ObjectiveConfig

log = logging.getLogger("rewardkit.data")

SIMILARITY_KEY = "prior_similarity"
DELTA_KEYS = {"reward": "delta_reward", "policy": "delta_policy"}
FORMS = ("reward", "policy")  # reward model form / DPO (implicit reward) form
SIMILARITY_PRIORS = ("length", "cosine")

# The authors' scripts (wangclnlp/DeepSpeed-Chat-Extension, PCRM): step2 reward model and step2 DPO.
PAPER_BOUNDS: dict[tuple[str, str], tuple[float, float, float]] = {
    ("length", "reward"): (10.0, 0.001, -5.0),
    ("length", "policy"): (20.0, 0.001, -15.0),
    ("cosine", "reward"): (20.0, 0.001, -15.0),
    ("cosine", "policy"): (30.0, 0.001, -25.0),
}


@dataclass(frozen=True)
class BoundParams:
    """delta* = b1 / (s + b2) + b3."""

    b1: float
    b2: float
    b3: float

    def delta(self, similarity: float) -> float:
        if similarity + self.b2 <= 0:
            raise ValueError(f"s + b2 = {similarity} + {self.b2} must be > 0 for the bound b1 / (s + b2) + b3")
        return self.b1 / (similarity + self.b2) + self.b3


def resolve_bound_params(
    prior: str, form: str, b1: float | None = None, b2: float | None = None, b3: float | None = None
) -> BoundParams:
    """The (b1, b2, b3) of a similarity prior and form: the paper's default for each None, else the given value."""
    if (prior, form) not in PAPER_BOUNDS:
        raise ValueError(
            f"no bound for prior={prior!r}, form={form!r}: prior must be one of {SIMILARITY_PRIORS}, "
            f"form one of {FORMS}"
        )
    d1, d2, d3 = PAPER_BOUNDS[(prior, form)]
    return BoundParams(
        d1 if b1 is None else float(b1), d2 if b2 is None else float(b2), d3 if b3 is None else float(b3)
    )


# ---- length ratio -----------------------------------------------------------------------------------


def length_ratio(chosen_ids: Sequence[int], rejected_ids: Sequence[int]) -> float:
    """shorter / longer length of the two responses after their common prefix (EOS included); 1 if identical.

    The prompt is shared by both sequences, so the common prefix of prompt+chosen and prompt+rejected
    is the prompt plus the common prefix of the responses.
    """
    k = common_prefix_length(chosen_ids, rejected_ids)
    a, b = len(chosen_ids) - k, len(rejected_ids) - k
    longer = max(a, b)
    return 1.0 if longer == 0 else min(a, b) / longer


def length_similarities(encoded: Sequence[EncodedPair]) -> list[float]:
    return [length_ratio(e.chosen_ids, e.rejected_ids) for e in encoded]


# ---- cosine -----------------------------------------------------------------------------------------


def pair_text(prompt: list[Message], response: str) -> str:
    """Prompt + response as plain "Human: ... Assistant: ..." text for the sentence embedder."""
    conversation = "".join(PLAIN_ROLE_PREFIX[m["role"]] + m["content"] for m in prompt)
    return (conversation + PLAIN_GENERATION_PROMPT + " " + response).strip()


def cosine_to_similarity(cosine: torch.Tensor, form: str) -> torch.Tensor:
    """Clamp to [0, 1]; reward form 1 - arccos(c) / pi, policy (DPO) form c."""
    c = cosine.double().clamp(0.0, 1.0)
    if form == "reward":
        return 1.0 - torch.arccos(c) / math.pi
    if form == "policy":
        return c
    raise ValueError(f"form must be one of {FORMS}, not {form!r}")


def source_pairs(encoded: Sequence[EncodedPair], pairs: Sequence[PreferencePair]) -> list[PreferencePair]:
    """The PreferencePair each encoded pair came from (`EncodedPair.index` is its position in `pairs`)."""
    out = []
    for e in encoded:
        if not 0 <= e.index < len(pairs):
            raise DataError(
                f"encoded pair index {e.index} is outside the {len(pairs)} source pairs", index=e.index, field="index"
            )
        out.append(pairs[e.index])
    return out


def pair_texts(encoded: Sequence[EncodedPair], pairs: Sequence[PreferencePair]) -> tuple[list[str], list[str]]:
    """Per encoded pair, the texts a cosine prior embeds: prompt + chosen, and prompt + rejected."""
    sources = source_pairs(encoded, pairs)
    return [pair_text(p.prompt, p.chosen) for p in sources], [pair_text(p.prompt, p.rejected) for p in sources]


def _checked_cosines(cosines: Sequence[float] | torch.Tensor | None, n: int) -> torch.Tensor:
    if cosines is None:
        raise ValueError(
            "the cosine prior needs the raw cosines of the pairs' sentence embeddings: compute them "
            "with rewardkit.models.embedder.pair_cosines and pass cosines=..."
        )
    values = torch.as_tensor(cosines, dtype=torch.float64).reshape(-1)
    if values.numel() != n:
        raise ValueError(f"{values.numel()} cosines for {n} encoded pairs")
    return values


def pair_similarities(
    encoded: Sequence[EncodedPair],
    prior: str,
    form: str = "reward",
    cosines: Sequence[float] | torch.Tensor | None = None,
) -> list[float]:
    """Similarity s of each encoded pair under a `length` or `cosine` prior (aligned with `encoded`);
    `cosines`: the raw cosine of each pair's embeddings, which the cosine prior needs."""
    if prior == "length":
        return length_similarities(encoded)
    if prior == "cosine":
        return cosine_to_similarity(_checked_cosines(cosines, len(encoded)), form).tolist()
    raise ValueError(f"similarity prior must be one of {SIMILARITY_PRIORS}, not {prior!r}")


# ---- ablations --------------------------------------------------------------------------------------


def random_delta(index: int, low: float, high: float, seed: int) -> float:
    """delta* ~ U(low, high), reproducible from (seed, pair index) alone."""
    return float(np.random.default_rng([seed, index]).uniform(low, high))


# ---- attaching to encoded pairs ---------------------------------------------------------------------


def attach_prior_bounds(
    encoded_pairs: Sequence[EncodedPair],
    config: ObjectiveConfig,
    *,
    cosines: Sequence[float] | torch.Tensor | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Store delta* of every constrained term in `extras` (`delta_reward` / `delta_policy`) and, for the
    similarity priors, s in `extras["prior_similarity"]` (the reward form when the reward term is
    constrained, else the policy form). `cosines`: the raw cosines of the pairs' embeddings (prior=cosine;
    rewardkit.models.embedder.pair_cosines). A no-op without a prior. Returns min/mean/max summaries.
    """
    targets = [form for form in FORMS if form in config.prior_targets()]
    if not targets or not encoded_pairs:
        return {}
    prior = config.prior
    deltas: dict[str, list[float]] = {}
    similarity: list[float] | None = None
    if prior in ("fixed", "random") and any(b is not None for b in (config.b1, config.b2, config.b3)):
        log.warning("prior=%s sets delta* directly; b1/b2/b3 are ignored", prior)
    if prior == "fixed":
        deltas = {form: [float(config.fixed_delta)] * len(encoded_pairs) for form in targets}
    elif prior == "random":
        low, high = config.random_delta_range
        values = [random_delta(e.index, low, high, seed) for e in encoded_pairs]
        deltas = dict.fromkeys(targets, values)
    else:
        per_form = {form: pair_similarities(encoded_pairs, prior, form, cosines) for form in targets}
        for form in targets:
            params = resolve_bound_params(prior, form, config.b1, config.b2, config.b3)
            deltas[form] = [_checked_delta(params, s, e) for s, e in zip(per_form[form], encoded_pairs)]
        similarity = per_form[targets[0]]
    for i, enc in enumerate(encoded_pairs):
        for form in targets:
            enc.extras[DELTA_KEYS[form]] = deltas[form][i]
        if similarity is not None:
            enc.extras[SIMILARITY_KEY] = similarity[i]
    summary = {DELTA_KEYS[form]: _describe(deltas[form]) for form in targets}
    if similarity is not None:
        summary[SIMILARITY_KEY] = _describe(similarity)
    log.info(
        "PCRM prior %s on %s for %d pairs: %s",
        prior,
        "+".join(targets),
        len(encoded_pairs),
        "; ".join(f"{k} min {v['min']:.3f} mean {v['mean']:.3f} max {v['max']:.3f}" for k, v in summary.items()),
    )
    return summary


def _checked_delta(params: BoundParams, similarity: float, enc: EncodedPair) -> float:
    try:
        return params.delta(similarity)
    except ValueError as e:
        raise DataError(str(e), index=enc.index, field=SIMILARITY_KEY) from e


def _describe(values: Sequence[float]) -> dict[str, float]:
    return {"min": float(min(values)), "mean": float(sum(values) / len(values)), "max": float(max(values))}
