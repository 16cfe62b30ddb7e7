"""Evaluate reward models on named sets of pairs: JSON results and a markdown table."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import EncodedPair, EncodingConfig, PairEncoder
from rewardkit.data.priors import pair_similarities
from rewardkit.data.record import DataError, PreferencePair
from rewardkit.evaluation.bias import length_bias, response_lengths
from rewardkit.evaluation.calibration import calibration
from rewardkit.evaluation.diagnostics import MarginPoints, margin_diagnostics, points_from_scores
from rewardkit.evaluation.pairwise import pairwise_metrics
from rewardkit.evaluation.scoring import PairScores, score_pairs, score_sequences
from rewardkit.files import write_json_atomic, write_text_atomic
from rewardkit.models.embedder import pair_cosines, prior_embedder
from rewardkit.models.heads import read_config, reward_stats
from rewardkit.models.loading import build_reward_model, load_tokenizer, read_metadata, reward_position
from rewardkit.models.reference import FrozenModelReference, Reference
from rewardkit.models.registry import DEFAULT_EMBEDDER, ModelResolutionError, resolve_model
from rewardkit.models.reward_model import ModelConfig, RewardModel

log = logging.getLogger("rewardkit.evaluation")


@dataclass
class Scorer:
    """What scoring needs: the model, its tokenizer and encoding, and which rewards it has."""

    name: str
    model: RewardModel
    tokenizer: Any
    encoding: EncodingConfig
    reward_head: bool = True
    reference: Reference | None = None  # set when the implicit reward can be computed
    beta: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    reward_stats: dict[str, float] | None = None  # the reward mean / std in the checkpoint's config.json

    @property
    def primary(self) -> str:
        """The score `accuracy` refers to: the reward head, or the implicit reward for DPO models."""
        return "reward" if self.reward_head else "implicit"

    def encoder(self) -> PairEncoder:
        return PairEncoder(self.tokenizer, self.encoding)

    def score(
        self,
        prompts: list[list[dict[str, str]]],
        responses: list[str],
        *,
        batch_size: int = 16,
        accelerator: Accelerator | None = None,
        packing: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Rewards of (prompt messages, response) items: {"rewards"} and/or {"implicit"}, in input order.

        Items whose prompts encode to the same tokens share one copy of the prompt (packing, the default; see
        evaluation/scoring.py); packing=False scores one padded row per item (same rewards, more compute)."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        encoder = self.encoder()
        sequences = [encoder.encode_single(p, r) for p, r in zip(prompts, responses)]
        return score_sequences(
            self.model,
            sequences,
            self.tokenizer.pad_token_id,
            batch_size=batch_size,
            reward_head=self.reward_head,
            reference=self.reference,
            beta=self.beta,
            accelerator=accelerator,
            packing=packing,
        )

    def score_texts(
        self, texts: list[str], *, batch_size: int = 16, accelerator: Accelerator | None = None
    ) -> torch.Tensor:
        """Reward-head scores of texts taken as is (TRL's standard format, pipelines): the reward at each text's
        last token (the latest max_length tokens are kept). Texts have no prompt / response boundary, so they
        have no implicit reward."""
        if not self.reward_head:
            raise ValueError(
                f"{self.name} has no trained reward head; texts have no prompt / response split for "
                "its implicit reward: score (prompt, response) items instead"
            )
        encoder = self.encoder()
        sequences = [text_sequence(encoder.encode_text(t)) for t in texts]
        return score_sequences(
            self.model, sequences, self.tokenizer.pad_token_id, batch_size=batch_size, accelerator=accelerator
        )["rewards"]


def text_sequence(ids: list[int]) -> tuple[list[int], list[int]]:
    """A text's token ids as a (prompt, response) sequence for `score_sequences`: the reward is read at the last
    token, so that token alone stands for the response."""
    if not ids:
        raise ValueError("an empty text has no token to read a reward at")
    return ids[:-1], ids[-1:]


def load_scorer(
    name: str,
    *,
    max_length: int | None = None,
    reference: str | None = None,
    dtype: str = "float32",
    use_chat_template: bool = True,
) -> Scorer:
    """A scorer for a reward model with a trained head: a rewardkit export, a sequence-classification checkpoint
    (TRL, OpenRLHF) or a LLaMA-Factory value-head checkpoint; a base model is refused (MissingRewardHeadError).

    DPO / HaF exports also get their implicit reward, which needs the reference policy (the base model
    recorded at training time, or `reference`); a DPO model without one is an error, a HaF model falls
    back to its reward head with a warning.
    """
    path = resolve_model(name)
    meta = read_metadata(path)
    model = build_reward_model(ModelConfig(name=name, tuning="full", dtype=dtype), keep_lm_head=True, fresh_head=False)
    model.requires_grad_(False)
    tokenizer = load_tokenizer(name)
    encoding = EncodingConfig(
        max_length=max_length or meta.get("max_length") or default_max_length(tokenizer),
        use_chat_template=meta.get("use_chat_template", use_chat_template),
        reward_position=reward_position(meta),
    )
    scorer = Scorer(
        name=name,
        model=model,
        tokenizer=tokenizer,
        encoding=encoding,
        reward_head=meta.get("reward_head", True),
        metadata=meta,
        reward_stats=reward_stats(read_config(Path(path))),
    )
    if meta.get("policy"):
        ref_name = reference or meta.get("reference_model")
        try:
            ref = build_reward_model(ModelConfig(name=ref_name, tuning="full", dtype=dtype), keep_lm_head=True)
            scorer.reference = FrozenModelReference(ref)
            scorer.beta = meta.get("objective_config", {}).get("beta", 0.1)
        except (ModelResolutionError, OSError, TypeError) as e:
            message = (
                f"{name} is a {meta.get('objective')} model whose implicit reward needs its reference "
                f"policy {ref_name!r}, which could not be loaded ({e}); pass --reference PATH"
            )
            if not scorer.reward_head:
                raise ModelResolutionError(message) from e
            log.warning("%s; reporting the reward head only", message)
    return scorer


def default_max_length(tokenizer: Any, fallback: int = 512) -> int:
    """A checkpoint's own length limit (tokenizer.model_max_length, when set), else `fallback`."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 8 <= limit <= 1_000_000 else fallback


def metrics_from_scores(
    scores: PairScores, pairs: list[PreferencePair], similarity: dict[int, float] | None = None
) -> dict[str, Any]:
    """Metrics of the reward head and/or the implicit reward; `accuracy` is the primary one.

    Also the margin diagnostics (evaluation/diagnostics.py): correlation with the prior `similarity`
    (pair index → s) when given, rank correlation with `PreferencePair.strength` where pairs have one.
    """
    subsets = [pairs[i].subset for i in scores.index.tolist()]
    ordered = [pairs[i] for i in scores.index.tolist()]
    out: dict[str, Any] = {}
    if scores.chosen is not None:
        out.update(pairwise_metrics(scores.chosen, scores.rejected, subsets))
        out.update(margin_diagnostics(points_from_scores(scores, pairs, similarity)))
        add_reward_quality(out, scores.chosen, scores.rejected, ordered)
    if scores.implicit_chosen is not None:
        implicit = pairwise_metrics(scores.implicit_chosen, scores.implicit_rejected, subsets)
        implicit.update(margin_diagnostics(points_from_scores(scores, pairs, similarity, implicit=True)))
        add_reward_quality(implicit, scores.implicit_chosen, scores.implicit_rejected, ordered)
        if scores.chosen is None:
            out.update(implicit)
        out["implicit_accuracy"] = implicit["accuracy"]
        out["implicit"] = implicit
    return out


def add_reward_quality(
    metrics: dict[str, Any], chosen: torch.Tensor, rejected: torch.Tensor, ordered: list[PreferencePair]
) -> None:
    """Add calibration (evaluation/calibration.py) and length bias (evaluation/bias.py) to `metrics` (the
    output of `pairwise_metrics` on the same scores), for the set and for each of its subsets."""
    c, r = chosen.double().cpu().numpy(), rejected.double().cpu().numpy()
    lc, lr = response_lengths(ordered)
    cal = calibration(c - r)
    metrics.update(ece=cal.ece, calibration=cal.to_dict(), length_bias=length_bias(c, r, lc, lr))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(ordered):
        groups[p.subset or "(none)"].append(i)
    for name, sub in (metrics.get("subsets") or {}).items():
        idx = groups[name]
        bias = length_bias(c[idx], r[idx], lc[idx], lr[idx])
        sub.update(
            ece=calibration(c[idx] - r[idx]).ece,
            margin_mean=float((c[idx] - r[idx]).mean()),
            margin_std=float((c[idx] - r[idx]).std()),
            **{k: bias[k] for k in ("accuracy_chosen_longer", "accuracy_chosen_shorter")},
        )


def evaluate_set(
    scorer: Scorer,
    pairs: list[PreferencePair],
    *,
    name: str = "set",
    batch_size: int = 16,
    accelerator: Accelerator | None = None,
    prior: str | None = "length",
    embedder: Any = None,
    encoded: list[EncodedPair] | None = None,
    packed: bool = False,
    collate: Any = None,
) -> tuple[dict[str, Any], MarginPoints]:
    """Metrics of one set, and the per-pair points (primary margin, similarity, strength) behind them.

    `prior` (length | cosine | None) is the similarity the margins are correlated with: the form of the
    primary score (reward model, or DPO for implicit-only scorers); `embedder` serves the cosine prior.
    `encoded`: `pairs` already encoded by `scorer.encoder()` (e.g. with precomputed reference log-probs).
    `packed`: shared-prefix packed rows (same scores, fewer tokens) instead of padded rows.
    `collate`: a pair collator overriding `packed` (e.g. models/trunk_cache.py TrunkStateCollator).
    """
    if collate is None:
        collate = None if packed else PaddedPairCollator(scorer.tokenizer.pad_token_id)
    if encoded is None:
        encoded = scorer.encoder().encode_all(pairs, desc=f"encoding {name}")
    if not encoded:
        raise DataError(
            f"no pairs to evaluate ({len(pairs)} loaded, {len(pairs) - len(encoded)} dropped as "
            f"identical after truncation)",
            source=name,
        )
    scores = score_pairs(
        scorer.model,
        encoded,
        collate,
        batch_size=batch_size,
        reward_head=scorer.reward_head,
        reference=scorer.reference,
        beta=scorer.beta,
        accelerator=accelerator or Accelerator(),
        desc=f"scoring {name}",
    )
    similarity = None
    if prior is not None:
        form = "reward" if scorer.reward_head else "policy"
        cosines = pair_cosines(encoded, pairs, embedder or prior_embedder()) if prior == "cosine" else None
        values = pair_similarities(encoded, prior, form, cosines)
        similarity = {e.index: s for e, s in zip(encoded, values)}
    metrics = metrics_from_scores(scores, pairs, similarity)
    metrics["dropped"] = len(pairs) - len(encoded)
    if prior is not None:
        metrics["prior"] = prior
    return metrics, points_from_scores(scores, pairs, similarity, implicit=not scorer.reward_head)


def evaluate_scorer(
    scorer: Scorer,
    sets: dict[str, list[PreferencePair]],
    *,
    batch_size: int = 16,
    accelerator: Accelerator | None = None,
    prior: str | None = "length",
    embedder: Any = None,
) -> dict[str, dict[str, Any]]:
    """Score every set; returns {set name: metrics} (see `evaluate_set` for `prior` and `embedder`)."""
    accelerator = accelerator or Accelerator()
    if prior == "cosine" and embedder is None:
        embedder = prior_embedder(DEFAULT_EMBEDDER)
    return {
        name: evaluate_set(
            scorer, pairs, name=name, batch_size=batch_size, accelerator=accelerator, prior=prior, embedder=embedder
        )[0]
        for name, pairs in sets.items()
    }


def markdown_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """results: {model: {set: metrics}} → a markdown table, one row per model and set."""
    lines = [
        "| model | set | pairs | accuracy | ties | margin mean | margin std | margin max | implicit acc "
        "| r(margin, s) | strength pairs | strength rho | strength tau |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for model, sets in results.items():
        for set_name, m in sets.items():
            implicit = f"{m['implicit_accuracy']:.4f}" if "implicit_accuracy" in m else ""
            lines.append(
                f"| {model} | {set_name} | {m['pairs']} | {m['accuracy']:.4f} | {m['ties']} | "
                f"{m['margin_mean']:.3f} | {m['margin_std']:.3f} | {m['margin_max']:.3f} | {implicit} | "
                f"{_fmt(m.get('margin_similarity_pearson'))} | {m.get('strength_pairs', '')} | "
                f"{_fmt(m.get('strength_spearman'))} | {_fmt(m.get('strength_kendall'))} |"
            )
        for set_name, m in sets.items():
            for sub, sm in (m.get("subsets") or {}).items():
                if len(m["subsets"]) > 1:
                    lines.append(
                        f"| {model} | {set_name} / {sub} | {sm['pairs']} | {sm['accuracy']:.4f} | | | | | | | | | |"
                    )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def write_report(results: dict[str, dict[str, dict[str, Any]]], out_dir: str | Path, stem: str = "eval") -> Path:
    out = Path(out_dir)
    write_json_atomic(out / f"{stem}.json", results)
    write_text_atomic(out / f"{stem}.md", markdown_table(results))
    return out / f"{stem}.json"
