"""Evaluate reward models on named sets of pairs: JSON results and a markdown table."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import EncodingConfig, PairEncoder
from rewardkit.data.record import PreferencePair
from rewardkit.evaluation.pairwise import pairwise_metrics
from rewardkit.evaluation.scoring import PairScores, score_pairs, score_sequences
from rewardkit.models.loading import build_reward_model, load_tokenizer, read_metadata
from rewardkit.models.reference import FrozenModelReference, Reference
from rewardkit.models.registry import ModelResolutionError, resolve_model
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

    @property
    def primary(self) -> str:
        """The score `accuracy` refers to: the reward head, or the implicit reward for DPO models."""
        return "reward" if self.reward_head else "implicit"

    def encoder(self) -> PairEncoder:
        return PairEncoder(self.tokenizer, self.encoding)

    def score(self, prompts: list[list[dict[str, str]]], responses: list[str], *, batch_size: int = 16,
              accelerator: Accelerator | None = None) -> dict[str, torch.Tensor]:
        """Rewards of (prompt messages, response) items: {"rewards"} and/or {"implicit"}, in input order."""
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        encoder = self.encoder()
        sequences = [encoder.encode_single(p, r) for p, r in zip(prompts, responses)]
        return score_sequences(self.model, sequences, self.tokenizer.pad_token_id, batch_size=batch_size,
                               reward_head=self.reward_head, reference=self.reference, beta=self.beta,
                               accelerator=accelerator)


def load_scorer(name: str, *, max_length: int | None = None, reference: str | None = None,
                dtype: str = "float32", use_chat_template: bool = True) -> Scorer:
    """A scorer for an exported rewardkit model, or for a base model with its reward head at init.

    DPO / HaF exports also get their implicit reward, which needs the reference policy (the base model
    recorded at training time, or `reference`); a DPO model without one is an error, a HaF model falls
    back to its reward head with a warning.
    """
    path = resolve_model(name)
    meta = read_metadata(path)
    model = build_reward_model(ModelConfig(name=name, tuning="full", dtype=dtype), keep_lm_head=True)
    model.requires_grad_(False)
    tokenizer = load_tokenizer(name)
    encoding = EncodingConfig(max_length=max_length or meta.get("max_length", 512),
                              use_chat_template=meta.get("use_chat_template", use_chat_template))
    scorer = Scorer(name=name, model=model, tokenizer=tokenizer, encoding=encoding,
                    reward_head=meta.get("reward_head", True), metadata=meta)
    if meta.get("policy"):
        ref_name = reference or meta.get("reference_model")
        try:
            ref = build_reward_model(ModelConfig(name=ref_name, tuning="full", dtype=dtype), keep_lm_head=True)
            scorer.reference = FrozenModelReference(ref)
            scorer.beta = meta.get("objective_config", {}).get("beta", 0.1)
        except (ModelResolutionError, OSError, TypeError) as e:
            message = (f"{name} is a {meta.get('objective')} model whose implicit reward needs its reference "
                       f"policy {ref_name!r}, which could not be loaded ({e}); pass --reference PATH")
            if not scorer.reward_head:
                raise ModelResolutionError(message) from e
            log.warning("%s; reporting the reward head only", message)
    return scorer


def metrics_from_scores(scores: PairScores, pairs: list[PreferencePair]) -> dict[str, Any]:
    """Metrics of the reward head and/or the implicit reward; `accuracy` is the primary one."""
    subsets = [pairs[i].subset for i in scores.index.tolist()]
    out: dict[str, Any] = {}
    if scores.chosen is not None:
        out.update(pairwise_metrics(scores.chosen, scores.rejected, subsets))
    if scores.implicit_chosen is not None:
        implicit = pairwise_metrics(scores.implicit_chosen, scores.implicit_rejected, subsets)
        if scores.chosen is None:
            out.update(implicit)
        out["implicit_accuracy"] = implicit["accuracy"]
        out["implicit"] = implicit
    return out


def evaluate_scorer(scorer: Scorer, sets: dict[str, list[PreferencePair]], *, batch_size: int = 16,
                    accelerator: Accelerator | None = None) -> dict[str, dict[str, Any]]:
    """Score every set; returns {set name: metrics}."""
    accelerator = accelerator or Accelerator()
    collate = PaddedPairCollator(scorer.tokenizer.pad_token_id)
    results = {}
    for set_name, pairs in sets.items():
        encoded = scorer.encoder().encode_all(pairs, desc=f"encoding {set_name}")
        scores = score_pairs(scorer.model, encoded, collate, batch_size=batch_size, reward_head=scorer.reward_head,
                             reference=scorer.reference, beta=scorer.beta, accelerator=accelerator,
                             desc=f"scoring {set_name}")
        metrics = metrics_from_scores(scores, pairs)
        metrics["dropped"] = len(pairs) - len(encoded)
        results[set_name] = metrics
    return results


def markdown_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """results: {model: {set: metrics}} → a markdown table, one row per model and set."""
    lines = ["| model | set | pairs | accuracy | ties | margin mean | margin std | implicit acc |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for model, sets in results.items():
        for set_name, m in sets.items():
            implicit = f"{m['implicit_accuracy']:.4f}" if "implicit_accuracy" in m else ""
            lines.append(f"| {model} | {set_name} | {m['pairs']} | {m['accuracy']:.4f} | {m['ties']} | "
                         f"{m['margin_mean']:.3f} | {m['margin_std']:.3f} | {implicit} |")
        for set_name, m in sets.items():
            for sub, sm in (m.get("subsets") or {}).items():
                if len(m["subsets"]) > 1:
                    lines.append(f"| {model} | {set_name} / {sub} | {sm['pairs']} | {sm['accuracy']:.4f} | | | | |")
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, dict[str, dict[str, Any]]], out_dir: str | Path, stem: str = "eval") -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(markdown_table(results))
    return out / f"{stem}.json"
