"""Export to standard HF checkpoints.

  <out>/                 AutoModelForSequenceClassification (num_labels=1) + tokenizer + README.md model card
  <out>/policy/          AutoModelForCausalLM, when the LM head was trained (HaF, DPO)
  <out>/rewardkit.json   how rewardkit scores with it (objective, beta, reference model, metrics, ...)

LoRA adapters are merged. The exported tokenizer carries the chat template the model was trained with (rewardkit's
plain Human:/Assistant: template for a model without one), so TRL, verl and pipelines render conversations as
rewardkit did; the reward is read at the last token of that render (data/encoding.py), which rewardkit.json records
as `reward_position`. The exported pad token differs from EOS: HF's sequence-classification models read the score
at the rightmost token that is not the pad token, so with pad == eos they would skip a final EOS (the plain
template ends with one: the "pad == eos pooling pitfall").
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

from rewardkit.data.encoding import PromptRenderer
from rewardkit.files import staged_directory, write_json_atomic, write_text_atomic
from rewardkit.finite import check_finite_weights
from rewardkit.models.loading import METADATA_FILE, POLICY_DIR
from rewardkit.models.model_card import model_card
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
    raise ValueError(
        "the tokenizer has no token other than EOS to pad with; add a pad token to the tokenizer "
        "(tokenizer.add_special_tokens({'pad_token': '<pad>'})) and resize the embeddings"
    )


def export_tokenizer(tokenizer: Any, metadata: dict[str, Any]) -> tuple[Any, int]:
    """A copy of `tokenizer` to ship with an export and that pad token's id: pad token not EOS, right padding, the
    chat template the model was trained with (its own, or the plain one: no template, or use_chat_template=False)
    and the trained max length as model_max_length (truncating tools read it)."""
    pad_token, pad_id = export_pad_token(tokenizer)
    tok = copy.deepcopy(tokenizer)
    tok.pad_token = pad_token
    tok.padding_side = "right"
    tok.chat_template = PromptRenderer(tokenizer, metadata.get("use_chat_template", True)).template
    if metadata.get("max_length"):
        tok.model_max_length = int(metadata["max_length"])
    return tok, pad_id


def _save_with_state(
    auto_cls: Any, config: Any, backbone: dict[str, torch.Tensor], heads: dict[str, torch.Tensor], out: Path
) -> None:
    """Instantiate `auto_cls` on the meta device, assign backbone + head tensors, save_pretrained."""
    with torch.device("meta"):
        skeleton = auto_cls.from_config(config, dtype=next(iter(backbone.values())).dtype)
    state = {f"{skeleton.base_model_prefix}.{k}": v for k, v in backbone.items()}
    state.update(heads)
    skeleton.load_state_dict(state, strict=True, assign=True)
    if hasattr(skeleton, "tie_weights"):
        skeleton.tie_weights()
    skeleton.save_pretrained(out)


def reward_config(model_config: Any, pad_id: int, stats: dict[str, float] | None) -> Any:
    """The sequence-classification config of a reward model, in the hub's and OpenRLHF's conventions: one label,
    problem_type "regression" (pipelines return the raw reward, not a sigmoid), the exported pad token, OpenRLHF's
    `value_head_prefix` and the training data's reward `mean` / `std` (read by OpenRLHF's normalize_enable)."""
    config = copy.deepcopy(model_config)
    config.num_labels = 1
    config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
    config.problem_type = "regression"
    config.pad_token_id = pad_id
    config.value_head_prefix = "score"
    if stats and stats.get("std", 0) > 0:
        config.mean, config.std = float(stats["mean"]), float(stats["std"])
    return config


def staged_export(export: Callable[..., Path]) -> Callable[..., Path]:
    """Make `export(model, tokenizer, out_dir, ...)` refuse non-finite weights and write into a staging
    directory that replaces `out_dir` only once complete (a killed export leaves the previous one, or none)."""

    @functools.wraps(export)
    def wrapper(model: RewardModel, tokenizer: Any, out_dir: str | Path, **kwargs: Any) -> Path:
        check_finite_weights(model.named_parameters(), f"export to {out_dir} refused")
        with staged_directory(out_dir) as staged:
            export(model, tokenizer, staged, **kwargs)
        return Path(out_dir)

    return wrapper


@staged_export
def export_model(
    model: RewardModel,
    tokenizer: Any,
    out_dir: str | Path,
    *,
    metadata: dict[str, Any],
    reward_head: bool = True,
    policy: bool = False,
) -> Path:
    """Write the reward model and/or the policy as HF checkpoints, plus metadata and a model card."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok, pad_id = export_tokenizer(tokenizer, metadata)
    with merged_backbone_state(model) as backbone_state:
        if reward_head:
            config = reward_config(model.config, pad_id, metadata.get("reward_stats"))
            _save_with_state(
                AutoModelForSequenceClassification,
                config,
                backbone_state,
                {"score.weight": model.score.weight.detach()},
                out,
            )
        if policy:
            if model.lm_head is None:
                raise ValueError("cannot export a policy: the model has no LM head")
            config = copy.deepcopy(model.config)
            _save_with_state(
                AutoModelForCausalLM,
                config,
                backbone_state,
                {"lm_head.weight": model.lm_head.weight.detach()},
                out / POLICY_DIR,
            )
            policy_tok = copy.deepcopy(tokenizer)
            policy_tok.chat_template = tok.chat_template
            policy_tok.save_pretrained(out / POLICY_DIR)
    tok.save_pretrained(out)
    meta = dict(
        metadata,
        reward_head=reward_head,
        policy=policy,
        pad_token_id=pad_id,
        eos_token_id=tokenizer.eos_token_id,
        reward_position="conversation_end",
    )
    write_json_atomic(out / METADATA_FILE, meta, default=str)
    write_text_atomic(out / "README.md", model_card(meta))
    log.info("exported to %s (reward head: %s, policy: %s)", out, reward_head, policy)
    return out
