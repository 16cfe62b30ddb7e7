"""Segment-level reward models: the RewardModel backbone with a scalar head (with bias) read at segment ends.

Training uses `RewardModel` unchanged: `rewards_at` reads the head at any flat positions, so a segment model
is the usual backbone + a 1-output linear head, read at the last token of every segment instead of at the EOS.
The head has a bias (a classifier of "no error" needs its base rate), which is also what transformers'
token-classification head has.

Export (verl-style token-level RM): `AutoModelForTokenClassification` with `num_labels=1`, the head as its
`score` (weight and bias) and `classifier_dropout=0.0` (the Llama token-classification head applies dropout,
by default 0.1, before `score`; rewardkit trains without it and the export says so, so that fine-tuning the
export behaves like rewardkit did; at inference dropout is off either way). `logits[0, t, 0]` is the segment
value at token t. rewardkit.json records `kind: "segment"`, the granularity, the aspect and the prompt format,
so `SegmentScorer` (evaluation/segments.py) splits and scores a response the way the model was trained.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForTokenClassification

from rewardkit.files import write_json_atomic, write_text_atomic
from rewardkit.models.export import _save_with_state, export_tokenizer, merged_backbone_state
from rewardkit.models.loading import METADATA_FILE, _model_kwargs, apply_tuning, build_reward_model, read_metadata
from rewardkit.models.registry import resolve_model
from rewardkit.models.reward_model import ModelConfig, RewardModel, init_reward_head

log = logging.getLogger("rewardkit.models")

SEGMENT_KIND = "segment"


def is_segment_model(path: str | Path) -> bool:
    """Whether `path` holds a rewardkit segment-model export."""
    return read_metadata(path).get("kind") == SEGMENT_KIND


def segment_head(
    hidden_size: int, how: str = "normal", std: float | None = None, dtype: torch.dtype = torch.float32
) -> nn.Linear:
    """A fresh head: weight as the pairwise reward head's init (`init_reward_head`), bias 0."""
    head = nn.Linear(hidden_size, 1, bias=True, dtype=dtype)
    init_reward_head(head, how, std)
    nn.init.zeros_(head.bias)
    return head


def load_segment_model(path: str | Path, cfg: ModelConfig | None = None) -> RewardModel:
    """An exported segment model (AutoModelForTokenClassification) as a RewardModel without LM head."""
    cfg = cfg or ModelConfig(name=str(path), tuning="full")
    tc = AutoModelForTokenClassification.from_pretrained(resolve_model(str(path)), **_model_kwargs(cfg))
    if tc.score.out_features != 1:
        raise ValueError(f"{path}: a segment model has num_labels=1, this one has {tc.score.out_features}")
    return RewardModel(getattr(tc, tc.base_model_prefix), tc.score, None)


def build_segment_model(cfg: ModelConfig, head_init: str = "normal") -> RewardModel:
    """A segment model to train: from a base causal LM (fresh head) or from a segment export (its head), with
    the tuning scope of `cfg` (full / lora / top_layers)."""
    path = resolve_model(cfg.name)
    if is_segment_model(path):
        return apply_tuning(load_segment_model(path, cfg), cfg, train_lm_head=False)
    model = build_reward_model(cfg, keep_lm_head=False, head_init=head_init)  # tuning applied, head replaced below
    old = model.score
    model.score = segment_head(old.in_features, cfg.head_init or head_init, cfg.head_init_std, dtype=old.weight.dtype)
    return model


def export_segment_model(model: RewardModel, tokenizer: Any, out_dir: str | Path, *, metadata: dict[str, Any]) -> Path:
    """Write `model` as an AutoModelForTokenClassification checkpoint + tokenizer + rewardkit.json + card."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok, pad_id = export_tokenizer(tokenizer, metadata)
    head = model.score
    if head.bias is None or head.out_features != 1:
        raise ValueError("a segment model's head is Linear(hidden, 1) with a bias")
    config = copy.deepcopy(model.config)
    config.num_labels = 1
    config.id2label, config.label2id = {0: "no_error"}, {"no_error": 0}
    config.pad_token_id = pad_id
    config.classifier_dropout = 0.0
    with merged_backbone_state(model) as backbone_state:
        _save_with_state(
            AutoModelForTokenClassification,
            config,
            backbone_state,
            {"score.weight": head.weight.detach(), "score.bias": head.bias.detach()},
            out,
        )
    tok.save_pretrained(out)
    meta = dict(
        metadata,
        kind=SEGMENT_KIND,
        pad_token_id=pad_id,
        eos_token_id=tokenizer.eos_token_id,
        reward_position="conversation_end",
    )
    write_json_atomic(out / METADATA_FILE, meta, default=str)
    write_text_atomic(out / "README.md", segment_model_card(meta))
    log.info("exported segment model to %s", out)
    return out


def segment_model_card(meta: dict[str, Any]) -> str:
    metrics = meta.get("metrics") or {}
    rows = (
        "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
        or "| (none recorded) | |"
    )
    return f"""---
library_name: transformers
tags: [reward-model, rewardkit, segment-reward-model, token-classification]
---
# Segment-level reward model trained with rewardkit

- aspect: `{meta.get("aspect")}`; segments: `{meta.get("granularity")}`; base model: `{meta.get("base_model")}`
- value: a logit of "this segment has no error", read at the segment's last token (positive = fine)
- training data: {meta.get("train_data") or "(not recorded)"}; max length: {meta.get("max_length")}

## Held-out metrics
| metric | value |
|---|---|
{rows}

## Use
```python
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

rm = AutoModelForTokenClassification.from_pretrained(PATH)  # num_labels=1
tok = AutoTokenizer.from_pretrained(PATH)
prompt = tok.apply_chat_template([{{"role": "user", "content": QUESTION}}], tokenize=False, add_generation_prompt=True)
ids = tok(prompt, add_special_tokens=False)["input_ids"] + tok(ANSWER, add_special_tokens=False)["input_ids"]
values = rm(torch.tensor([ids])).logits[0, :, 0]  # read at the last token of each segment
```

Or with rewardkit, which splits the answer into segments the way the model was trained:
`from rewardkit.evaluation.segments import load_segment_scorer; load_segment_scorer(PATH).score(prompts, responses)`.
"""
