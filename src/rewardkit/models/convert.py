"""Another tool's reward model → a rewardkit export (models/export.py): a `*ForSequenceClassification` checkpoint
with the training chat template, problem_type "regression", model_max_length, OpenRLHF's mean / std when the
source has them, rewardkit.json and a model card; LLaMA-Factory value-head checkpoints become loadable by every
tool this way. A head bias (LLaMA-Factory's value head has one) has no place in a sequence-classification head:
it is kept in rewardkit.json (`score_bias`, added back by rewardkit), and other tools' rewards are lower by it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rewardkit.models.export import export_model
from rewardkit.models.heads import LOOKED_FOR, MissingRewardHeadError, find_reward_head, read_config, reward_stats
from rewardkit.models.loading import is_exported_reward_model, load_tokenizer, load_with_head
from rewardkit.models.registry import resolve_model
from rewardkit.models.reward_model import ModelConfig

log = logging.getLogger("rewardkit.models")


def convert_reward_model(
    name: str, out_dir: str | Path, *, max_length: int | None = None, dtype: str = "float32"
) -> Path:
    """Write `name` (a TRL / OpenRLHF sequence classifier or a LLaMA-Factory value-head checkpoint) as a rewardkit
    export in `out_dir`; its rewards are unchanged (tested)."""
    path = resolve_model(name)
    if is_exported_reward_model(path):
        raise ValueError(f"{name} is already a rewardkit export")
    head = find_reward_head(path)
    if head is None:
        raise MissingRewardHeadError(f"{name} has no trained reward head to convert; looked for {LOOKED_FOR}")
    model = load_with_head(path, head, ModelConfig(name=name, tuning="full", dtype=dtype), keep_lm_head=False)
    tokenizer = load_tokenizer(name)
    limit = getattr(tokenizer, "model_max_length", None)
    metadata: dict[str, Any] = {
        "objective": "imported",
        "base_model": name,
        "converted_from": {"path": name, "layout": head.layout, "head": head.weight_key},
        "max_length": max_length or (limit if isinstance(limit, int) and limit <= 1_000_000 else 512),
        "reward_stats": reward_stats(read_config(Path(path))),
    }
    if model.score.bias is not None:
        metadata["score_bias"] = float(model.score.bias.detach().reshape(-1)[0])
        log.warning(
            "%s: the head's bias %.6f cannot be stored in a *ForSequenceClassification head; rewardkit adds "
            "it back (rewardkit.json score_bias), other tools' rewards are lower by it",
            name,
            metadata["score_bias"],
        )
    return export_model(model, tokenizer, out_dir, metadata=metadata)
