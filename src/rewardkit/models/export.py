"""Export to standard HF checkpoints.

  <out>/                 AutoModelForSequenceClassification (num_labels=1) + tokenizer + README.md model card
  <out>/policy/          AutoModelForCausalLM, when the LM head was trained (HaF, DPO)
  <out>/rewardkit.json   how rewardkit scores with it (objective, beta, reference model, metrics, ...)

LoRA adapters are merged. The exported pad token differs from EOS: HF's sequence-classification models
read the score at the rightmost token that is not the pad token, so with pad == eos they would skip the
EOS the reward is read at (the "pad == eos pooling pitfall").
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from rewardkit.files import write_json_atomic, write_text_atomic
from rewardkit.models.loading import METADATA_FILE, POLICY_DIR
from rewardkit.models.reward_model import RewardModel

log = logging.getLogger("rewardkit.models")


@contextlib.contextmanager
def merged_backbone_state(model: RewardModel) -> Iterator[dict[str, torch.Tensor]]:
    """The backbone's state dict with LoRA merged in (non-destructive: unmerged on exit)."""
    if not model.is_peft:
        yield model.base_backbone.state_dict()
        return
    model.backbone.merge_adapter()
    try:
        state = {}
        for key, value in model.base_backbone.state_dict().items():
            if "lora_" in key:
                continue
            state[key.replace(".base_layer.", ".")] = value
        yield state
    finally:
        model.backbone.unmerge_adapter()


def export_pad_token(tokenizer: Any) -> tuple[str, int]:
    """A pad token that is not EOS: the tokenizer's own pad, else its unk token, else a new special token."""
    eos = tokenizer.eos_token_id
    for token in (tokenizer.pad_token, tokenizer.unk_token):
        if token is not None and tokenizer.convert_tokens_to_ids(token) != eos:
            return token, tokenizer.convert_tokens_to_ids(token)
    raise ValueError("the tokenizer has no token other than EOS to pad with; add a pad token to the tokenizer "
                     "(tokenizer.add_special_tokens({'pad_token': '<pad>'})) and resize the embeddings")


def export_tokenizer(tokenizer: Any) -> tuple[Any, int]:
    """A copy of `tokenizer` to ship with an export (pad token not EOS, right padding) and that pad token's id."""
    pad_token, pad_id = export_pad_token(tokenizer)
    tok = copy.deepcopy(tokenizer)
    tok.pad_token = pad_token
    tok.padding_side = "right"
    return tok, pad_id


def _save_with_state(auto_cls: Any, config: Any, backbone: dict[str, torch.Tensor],
                     heads: dict[str, torch.Tensor], out: Path) -> None:
    """Instantiate `auto_cls` on the meta device, assign backbone + head tensors, save_pretrained."""
    with torch.device("meta"):
        skeleton = auto_cls.from_config(config, dtype=next(iter(backbone.values())).dtype)
    state = {f"{skeleton.base_model_prefix}.{k}": v for k, v in backbone.items()}
    state.update(heads)
    skeleton.load_state_dict(state, strict=True, assign=True)
    if hasattr(skeleton, "tie_weights"):
        skeleton.tie_weights()
    skeleton.save_pretrained(out)


def export_model(model: RewardModel, tokenizer: Any, out_dir: str | Path, *, metadata: dict[str, Any],
                 reward_head: bool = True, policy: bool = False) -> Path:
    """Write the reward model and/or the policy as HF checkpoints, plus metadata and a model card."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok, pad_id = export_tokenizer(tokenizer)
    with merged_backbone_state(model) as backbone_state:
        if reward_head:
            config = copy.deepcopy(model.config)
            config.num_labels = 1
            config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
            config.pad_token_id = pad_id
            _save_with_state(AutoModelForSequenceClassification, config, backbone_state,
                             {"score.weight": model.score.weight.detach()}, out)
        if policy:
            if model.lm_head is None:
                raise ValueError("cannot export a policy: the model has no LM head")
            config = copy.deepcopy(model.config)
            _save_with_state(AutoModelForCausalLM, config, backbone_state,
                             {"lm_head.weight": model.lm_head.weight.detach()}, out / POLICY_DIR)
            tokenizer.save_pretrained(out / POLICY_DIR)
    tok.save_pretrained(out)
    meta = dict(metadata, reward_head=reward_head, policy=policy, pad_token_id=pad_id,
                eos_token_id=tokenizer.eos_token_id)
    write_json_atomic(out / METADATA_FILE, meta, default=str)
    write_text_atomic(out / "README.md", model_card(meta))
    log.info("exported to %s (reward head: %s, policy: %s)", out, reward_head, policy)
    return out


def model_card(meta: dict[str, Any]) -> str:
    metrics = meta.get("metrics") or {}
    metric_rows = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                            for k, v in metrics.items()) or "| (none recorded) | |"
    data = meta.get("train_data") or "(not recorded)"
    usage_rm = """```python
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

rm = AutoModelForSequenceClassification.from_pretrained(PATH)
tok = AutoTokenizer.from_pretrained(PATH)
messages = [{"role": "user", "content": "What is 2+2?"}]
prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
# rewardkit appends EOS to every response and reads the reward there
ids = tok(prompt, add_special_tokens=False)["input_ids"] + tok("4", add_special_tokens=False)["input_ids"]
ids.append(tok.eos_token_id)
reward = rm(torch.tensor([ids])).logits[0, 0].item()
```"""
    reward_kind = {"dpo": "implicit reward beta * (log pi - log ref) of the policy in policy/"}.get(
        meta.get("objective", ""), "scalar reward head (AutoModelForSequenceClassification, num_labels=1)")
    return f"""---
library_name: transformers
tags: [reward-model, rewardkit, {meta.get("objective", "bt")}]
---
# Reward model trained with rewardkit

- base model: `{meta.get("base_model")}`
- objective: `{meta.get("objective")}` ({json.dumps(meta.get("objective_config", {}))})
- reward: {reward_kind}
- training data: {data}
- max length: {meta.get("max_length")}

## Metrics
| metric | value |
|---|---|
{metric_rows}

## Use
{usage_rm if meta.get("reward_head") else "Score with `rewardkit eval` / `rewardkit score`, which compute the implicit reward."}

Or with rewardkit: `rewardkit score --model PATH --input pairs.jsonl`.
"""
