"""The model card (README.md) of an export: hub metadata (YAML front matter: base_model, pipeline_tag, datasets,
license, tags), what the reward is, metrics, and a usage snippet that runs as written from the export directory
for every template kind (tests execute it)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from rewardkit.models.registry import ALIASES

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

USAGE_REWARD_HEAD = """```python
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

path = "."  # this directory (or the hub repo id it is uploaded to)
rm = AutoModelForSequenceClassification.from_pretrained(path)
tok = AutoTokenizer.from_pretrained(path)
messages = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
# the whole conversation rendered by the exported chat template; the reward is read at its last token
text = tok.apply_chat_template(messages, tokenize=False)
with torch.no_grad():
    reward = rm(**tok(text, add_special_tokens=False, return_tensors="pt")).logits[0, 0].item()
# the same number from a pipeline (problem_type "regression": the raw reward, no sigmoid)
classify = pipeline("text-classification", model=path, function_to_apply="none")
assert abs(classify(text, add_special_tokens=False)[0]["score"] - reward) < 1e-4
print(reward)
```"""

USAGE_IMPLICIT = """```bash
echo '{"prompt": "What is 2+2?", "response": "4"}' | rewardkit score --model PATH --reference BASE_MODEL
```
The implicit reward needs the policy (`policy/`) and the reference model it was trained against."""


def hub_id(name: str | None) -> str | None:
    """The hub repo id of a model name: a built-in alias's, or the name when it looks like `org/name` and is not a
    local path."""
    if not name:
        return None
    if name in ALIASES:
        return ALIASES[name].hub_id
    return name if HUB_ID.match(name) and not Path(name).expanduser().exists() else None


def base_license(name: str | None) -> str | None:
    """The base model's license: a built-in alias's, or the `license` of a local checkpoint's own model card."""
    if not name:
        return None
    if name in ALIASES:
        return ALIASES[name].license
    card = Path(name).expanduser() / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8", errors="replace")
        if text.startswith("---"):
            try:
                front = yaml.safe_load(text.split("---", 2)[1]) or {}
            except yaml.YAMLError:
                return None
            if isinstance(front, dict) and isinstance(front.get("license"), str):
                return front["license"]
    return None


def card_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The YAML front matter the hub reads."""
    out: dict[str, Any] = {
        "library_name": "transformers",
        "pipeline_tag": "text-classification" if meta.get("reward_head") else "text-generation",
        "tags": ["reward-model", "rewardkit", str(meta.get("objective", "bt"))],
    }
    base = hub_id(meta.get("base_model"))
    if base:
        out["base_model"] = base
    datasets = [
        d.removeprefix("hf:").split(":")[0]
        for d in meta.get("train_data") or []
        if isinstance(d, str) and d.startswith("hf:")
    ]
    if datasets:
        out["datasets"] = datasets
    license_ = meta.get("license") or base_license(meta.get("base_model"))
    if license_:
        out["license"] = license_
    return out


def model_card(meta: dict[str, Any]) -> str:
    metrics = meta.get("metrics") or {}
    metric_rows = (
        "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
        or "| (none recorded) | |"
    )
    reward_kind = {"dpo": "implicit reward beta * (log pi - log ref) of the policy in policy/"}.get(
        meta.get("objective", ""), "scalar reward head (AutoModelForSequenceClassification, num_labels=1)"
    )
    stats = meta.get("reward_stats")
    notes = []
    if stats:
        notes.append(
            f"- reward mean / std on the training data: {stats['mean']:.4f} / {stats['std']:.4f} "
            f"(`mean` / `std` in config.json: OpenRLHF's `--reward.normalize_enable` reads them)"
        )
    if meta.get("score_bias") is not None:
        notes.append(
            f"- the head's bias {meta['score_bias']:.6f} has no place in a `*ForSequenceClassification` "
            "head: other tools' rewards are that much lower than rewardkit's (rankings and group-normalised "
            "advantages are unchanged)"
        )
    front = yaml.safe_dump(card_metadata(meta), sort_keys=False).strip()
    usage = USAGE_REWARD_HEAD if meta.get("reward_head") else USAGE_IMPLICIT
    return f"""---
{front}
---
# Reward model trained with rewardkit

- base model: `{meta.get("base_model")}`
- objective: `{meta.get("objective")}` ({json.dumps(meta.get("objective_config", {}))})
- reward: {reward_kind}, read at the last token of the whole conversation rendered by the tokenizer's chat template
- training data: {meta.get("train_data") or "(not recorded)"}
- max length: {meta.get("max_length")} tokens (the tokenizer's model_max_length)
{chr(10).join(notes)}

## Metrics
| metric | value |
|---|---|
{metric_rows}

## Use
{usage}

TRL: `GRPOTrainer(..., reward_funcs="PATH")` computes the same reward. With rewardkit:
`rewardkit score --model PATH --input items.jsonl`, or `rewardkit serve --model PATH` for RL trainers.
"""
