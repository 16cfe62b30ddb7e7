"""Build a RewardModel from a base causal LM or reload one rewardkit exported."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import nn
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from rewardkit.models.registry import resolve_model
from rewardkit.models.reward_model import ModelConfig, RewardModel, init_reward_head, torch_dtype

log = logging.getLogger("rewardkit.models")

METADATA_FILE = "rewardkit.json"
POLICY_DIR = "policy"


def load_tokenizer(name: str) -> Any:
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(name))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is always masked; rewards are read at EOS
    return tokenizer


def read_metadata(path: str | Path) -> dict[str, Any]:
    """rewardkit's metadata of an exported checkpoint ({} for a plain HF model or alias)."""
    file = Path(path) / METADATA_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def is_exported_reward_model(path: str | Path) -> bool:
    return (Path(path) / METADATA_FILE).exists()


def _model_kwargs(cfg: ModelConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dtype": torch_dtype(cfg.dtype), "trust_remote_code": cfg.trust_remote_code}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    return kwargs


def _layers(decoder: nn.Module) -> nn.ModuleList:
    """The decoder's stack of transformer blocks (the largest ModuleList)."""
    lists = [m for m in decoder.modules() if isinstance(m, nn.ModuleList)]
    if not lists:
        raise ValueError(f"cannot find the layer stack of {type(decoder).__name__} for top_layers tuning")
    return max(lists, key=len)


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

        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=cfg.lora_target_modules, bias="none")
        model.backbone = get_peft_model(model.backbone, lora)
    elif cfg.tuning == "top_layers":
        decoder = model.base_backbone
        decoder.requires_grad_(False)
        layers = _layers(decoder)
        k = min(cfg.top_layers, len(layers))
        for layer in layers[len(layers) - k:]:
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


def build_reward_model(cfg: ModelConfig, *, train_lm_head: bool = False, keep_lm_head: bool = True,
                       head_init: str | None = None) -> RewardModel:
    """A RewardModel on top of `cfg.name`, or a reload of a rewardkit export with its trained heads.

    head_init is the objective's default for a fresh head, used when cfg.head_init is unset.
    """
    path = resolve_model(cfg.name)
    if is_exported_reward_model(path):
        model = load_exported(path, cfg)
    else:
        lm = AutoModelForCausalLM.from_pretrained(path, **_model_kwargs(cfg))
        decoder = lm.get_decoder()
        score = nn.Linear(decoder.config.hidden_size, 1, bias=False, dtype=lm.dtype)
        init_reward_head(score, cfg.head_init or head_init or "normal", cfg.head_init_std)
        model = RewardModel(decoder, score, lm.get_output_embeddings() if keep_lm_head else None)
    return apply_tuning(model, cfg, train_lm_head)


def load_exported(path: str | Path, cfg: ModelConfig | None = None) -> RewardModel:
    """Reload what export.py wrote: reward model (seq-cls), policy, or both (hybrid)."""
    path = Path(path)
    cfg = cfg or ModelConfig(name=str(path))
    kwargs = _model_kwargs(cfg)
    has_rm = (path / "config.json").exists()
    has_policy = (path / POLICY_DIR / "config.json").exists()
    if has_policy:
        lm = AutoModelForCausalLM.from_pretrained(path / POLICY_DIR, **kwargs)
        decoder, lm_head = lm.get_decoder(), lm.get_output_embeddings()
        score = nn.Linear(decoder.config.hidden_size, 1, bias=False, dtype=lm.dtype)
        if has_rm:
            score.weight.data.copy_(_read_tensor(path, "score.weight"))
        else:
            nn.init.zeros_(score.weight)  # DPO export: no reward head was trained
        return RewardModel(decoder, score, lm_head)
    if not has_rm:
        raise FileNotFoundError(f"{path} holds neither a reward model (config.json) nor a policy ({POLICY_DIR}/)")
    seqcls = AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
    return RewardModel(getattr(seqcls, seqcls.base_model_prefix), seqcls.score, None)


def _read_tensor(path: Path, key: str) -> torch.Tensor:
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            if key in f.keys():
                return f.get_tensor(key)
    raise KeyError(f"{key} not found in {path}")
