"""Build a RewardModel: load a trained one with its head, or put a fresh head on a base causal LM for training.

Trained heads come from rewardkit exports (rewardkit.json), sequence-classification checkpoints (TRL's
RewardTrainer, OpenRLHF) and LLaMA-Factory value heads (models/heads.py). A directory without one is refused
(`MissingRewardHeadError`, naming what was looked for) unless `fresh_head` is allowed, which training does: a
random head on a base model would otherwise score as if it were a reward model.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from rewardkit.models.decoder import layer_stack
from rewardkit.models.heads import (
    LOOKED_FOR,
    HeadSource,
    MissingRewardHeadError,
    find_reward_head,
    read_config,
    read_tensor,
    tensor_files,
)
from rewardkit.models.registry import resolve_model
from rewardkit.models.reward_model import ModelConfig, RewardModel, init_reward_head, torch_dtype

log = logging.getLogger("rewardkit.models")

METADATA_FILE = "rewardkit.json"
POLICY_DIR = "policy"


def load_tokenizer(name: str) -> Any:
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(name))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is always masked; rewards are read by position
    return tokenizer


def read_metadata(path: str | Path) -> dict[str, Any]:
    """rewardkit's metadata of an exported checkpoint ({} for a plain HF model or alias)."""
    file = Path(path) / METADATA_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def reward_position(meta: dict[str, Any]) -> str:
    """Where a checkpoint's reward is read (data/encoding.py REWARD_POSITIONS): recorded in rewardkit.json; an export
    without the record predates the chat-template contract and read it at an EOS appended to the bare response."""
    if not meta:
        return "conversation_end"  # not a rewardkit export: the convention of every other tool
    return meta.get("reward_position", "appended_eos")


def is_exported_reward_model(path: str | Path) -> bool:
    return (Path(path) / METADATA_FILE).exists()


def _model_kwargs(cfg: ModelConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dtype": torch_dtype(cfg.dtype), "trust_remote_code": cfg.trust_remote_code}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    return kwargs


def is_tied(model: RewardModel) -> bool:
    """Whether the LM head is the input embedding matrix (tied word embeddings)."""
    return model.lm_head is not None and model.lm_head.weight is model.base_backbone.get_input_embeddings().weight


def untie_lm_head(model: RewardModel) -> None:
    """Give a tied LM head its own copy of the weights (the input embeddings keep theirs); no-op if untied."""
    if is_tied(model):
        model.lm_head = copy.deepcopy(model.lm_head)  # deepcopy clones the shared parameter
        model.config.tie_word_embeddings = False
        log.info("LM head untied from the input embeddings: its copy trains, the embeddings stay as they are")


def apply_tuning(model: RewardModel, cfg: ModelConfig, train_lm_head: bool) -> RewardModel:
    """Set which parameters train: all, LoRA adapters (+ heads), or the top k layers (+ final norm, heads)."""
    if cfg.tuning == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
            bias="none",
        )
        model.backbone = get_peft_model(model.backbone, lora)
    elif cfg.tuning == "top_layers":
        decoder = model.base_backbone
        decoder.requires_grad_(False)
        layers = layer_stack(decoder)
        k = min(cfg.top_layers, len(layers))
        for layer in layers[len(layers) - k :]:
            layer.requires_grad_(True)
        norm = getattr(decoder, "norm", None) or getattr(decoder, "final_layer_norm", None)
        if norm is not None:
            norm.requires_grad_(True)
    model.score.requires_grad_(True)
    if model.lm_head is not None and cfg.untie_lm_head and train_lm_head:
        untie_lm_head(model)
    if model.lm_head is not None and cfg.tuning != "full":
        tied = is_tied(model)
        # An untied LM head trains with the policy loss; a tied one is the embedding matrix, left frozen.
        model.lm_head.requires_grad_(train_lm_head and not tied)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model


def build_reward_model(
    cfg: ModelConfig,
    *,
    train_lm_head: bool = False,
    keep_lm_head: bool = True,
    head_init: str | None = None,
    fresh_head: bool = True,
) -> RewardModel:
    """A RewardModel on `cfg.name`: a trained reward model with its head (rewardkit export, sequence classifier,
    LLaMA-Factory value head), or, when `fresh_head` (training), a base causal LM with a new head.

    head_init is the objective's default for a fresh head, used when cfg.head_init is unset. Without
    `fresh_head` a directory with no trained head raises MissingRewardHeadError.
    """
    path = resolve_model(cfg.name)
    head = None if is_exported_reward_model(path) else find_reward_head(path)
    if is_exported_reward_model(path):
        model = load_exported(path, cfg)
    elif head is not None:
        model = load_with_head(path, head, cfg, keep_lm_head=keep_lm_head)
    elif not fresh_head:
        architectures = read_config(Path(path)).get("architectures")
        raise MissingRewardHeadError(
            f"{cfg.name} has no trained reward head (architectures: {architectures}); "
            f"looked for {LOOKED_FOR}. Train one on it first (rewardkit train --model "
            f"{cfg.name}), or point at a reward model checkpoint"
        )
    else:
        lm = AutoModelForCausalLM.from_pretrained(path, **_model_kwargs(cfg))
        decoder = lm.get_decoder()
        score = nn.Linear(decoder.config.hidden_size, 1, bias=False, dtype=lm.dtype)
        how = cfg.head_init or head_init or "normal"
        init_reward_head(score, how, cfg.head_init_std)
        log.info("a fresh reward head (%s init) on %s, to be trained", how, cfg.name)
        model = RewardModel(decoder, score, lm.get_output_embeddings() if keep_lm_head else None)
    return apply_tuning(model, cfg, train_lm_head)


def head_layer(weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype) -> nn.Linear:
    """A hidden → 1 reward head holding trained weights."""
    score = nn.Linear(weight.shape[1], 1, bias=bias is not None, dtype=dtype)
    with torch.no_grad():
        score.weight.copy_(weight.reshape(1, -1))
        if bias is not None:
            score.bias.copy_(bias.reshape(1))
    return score


def load_with_head(path: str | Path, head: HeadSource, cfg: ModelConfig, *, keep_lm_head: bool = True) -> RewardModel:
    """Another tool's reward model: its decoder with the trained head `find_reward_head` found."""
    kwargs = _model_kwargs(cfg)
    if head.layout == "value_head":  # LLaMA-Factory: the directory is the causal LM itself
        lm = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        decoder, lm_head = lm.get_decoder(), lm.get_output_embeddings() if keep_lm_head else None
    else:  # the head is replaced below: its own name may not be `score` (OpenRLHF's value_head_prefix)
        seqcls = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, **kwargs)
        decoder, lm_head = getattr(seqcls, seqcls.base_model_prefix), None
    weight, bias = head.tensors()
    dtype = next(decoder.parameters()).dtype
    log.info("loaded %s with its trained %s", path, head.describe())
    return RewardModel(decoder, head_layer(weight, bias, dtype), lm_head)


def load_exported(path: str | Path, cfg: ModelConfig | None = None) -> RewardModel:
    """Reload what export.py wrote: reward model (seq-cls), policy, or both (hybrid).

    A converted checkpoint whose head had a bias (LLaMA-Factory) records it as `score_bias` in rewardkit.json:
    `*ForSequenceClassification` heads have none."""
    path = Path(path)
    cfg = cfg or ModelConfig(name=str(path))
    kwargs = _model_kwargs(cfg)
    bias = read_metadata(path).get("score_bias")
    bias = None if bias is None else torch.tensor([float(bias)])
    has_rm = (path / "config.json").exists()
    has_policy = (path / POLICY_DIR / "config.json").exists()
    if has_policy:
        lm = AutoModelForCausalLM.from_pretrained(path / POLICY_DIR, **kwargs)
        decoder, lm_head = lm.get_decoder(), lm.get_output_embeddings()
        if has_rm:
            weight = _read_tensor(path, "score.weight")
        else:
            weight = torch.zeros(1, decoder.config.hidden_size)  # DPO export: no reward head was trained
        return RewardModel(decoder, head_layer(weight, bias, lm.dtype), lm_head)
    if not has_rm:
        raise FileNotFoundError(f"{path} holds neither a reward model (config.json) nor a policy ({POLICY_DIR}/)")
    seqcls = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
    score = seqcls.score if bias is None else head_layer(seqcls.score.weight.detach(), bias, seqcls.dtype)
    return RewardModel(getattr(seqcls, seqcls.base_model_prefix), score, None)


def _read_tensor(path: Path, key: str) -> torch.Tensor:
    files = tensor_files(path)
    if key not in files:
        raise KeyError(f"{key} not found in {path}")
    return read_tensor(files[key], key)
