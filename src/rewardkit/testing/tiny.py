"""A byte-level tokenizer (ChatML template) and a tiny random Llama, built from code: no downloads."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from rewardkit.testing.commands import cli_args

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_tokenizer(chat_template: bool = True) -> PreTrainedTokenizerFast:
    """Byte-level BPE with no merges: every byte is a token; specials <|endoftext|>, <|im_start|>, <|im_end|>."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(ch, len(vocab))
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<|endoftext|>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
    )
    tok.add_special_tokens({"additional_special_tokens": []})
    if chat_template:
        tok.chat_template = CHATML_TEMPLATE
    return tok


def tiny_llama_config(vocab_size: int, *, layers: int = 2, hidden: int = 32, tie: bool = True) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=tie,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )


def save_tiny_model(
    path: str | Path, *, seed: int = 0, chat_template: bool = True, layers: int = 2, hidden: int = 32, tie: bool = True
) -> Path:
    """Write a tiny random Llama causal LM + tokenizer to `path` (a local model directory)."""
    path = Path(path)
    tok = tiny_tokenizer(chat_template)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(len(tok), layers=layers, hidden=hidden, tie=tie))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def export_tiny_reward_model(
    base: str | Path,
    out: str | Path,
    *,
    policy: bool = False,
    max_length: int = 96,
    seed: int = 3,
    reward_head: bool = True,
    top_layer_noise: float = 0.0,
) -> Path:
    """Export a reward model on the tiny `base` (from `save_tiny_model`) with a fixed random score head, so that
    separate loads agree. `policy=True` keeps the LM head, nudged off its reference: a HaF model with a non-zero
    implicit reward (`reward_head=False` with it: a DPO model). `top_layer_noise` perturbs the last decoder
    layer instead, as top_layers training leaves a checkpoint (embeddings and bottom layers stay the base's)."""
    from rewardkit.models.export import export_model
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig

    torch.manual_seed(seed)
    model = build_reward_model(ModelConfig(name=str(base), tuning="full"), keep_lm_head=True)
    with torch.no_grad():
        model.score.weight.normal_(std=0.5)
        if top_layer_noise:  # the LM head (maybe tied to the embeddings) stays: the trunk is the base's
            for p in model.base_backbone.layers[-1].parameters():
                p.add_(top_layer_noise * torch.randn_like(p))
        elif policy:
            model.lm_head.weight.add_(0.05 * torch.randn_like(model.lm_head.weight))
    objective = ("haf" if reward_head else "dpo") if policy else "bt"
    meta: dict[str, Any] = {"objective": objective, "max_length": max_length, "base_model": str(base)}
    if policy:
        meta.update(reference_model=str(base), objective_config={"beta": 0.1})
    return export_model(
        model, load_tokenizer(str(base)), Path(out), metadata=meta, policy=policy, reward_head=reward_head
    )


RejectedText = Callable[[int, int, int, random.Random], str]


def evasive_answer(a: int, b: int, i: int, rng: random.Random) -> str:
    """The default wrong answer: long and evasive (a tiny model learns to tell it from the short correct one)."""
    return f"Maybe {a * b + 7}, who knows"


def arithmetic_rows(
    n: int,
    *,
    seed: int = 0,
    rejected: RejectedText = evasive_answer,
    extra: Callable[[int], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """`n` toy preference records "What is a+b?": chosen is the correct sum, rejected is `rejected(a, b, i, rng)`;
    `extra(i)` adds fields (subset, margin, ...)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        rows.append(
            {
                "prompt": f"What is {a}+{b}?",
                "chosen": f"{a + b}.",
                "rejected": rejected(a, b, i, rng),
                **(extra(i) if extra else {}),
            }
        )
    return rows


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    path = Path(path)
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def train_tiny_reward_model(
    base: str | Path,
    workdir: str | Path,
    *,
    steps: int = 12,
    max_length: int = 128,
    seed: int = 0,
    learning_rate: float = 3e-3,
    tuning: str = "full",
    use_chat_template: bool = True,
) -> Path:
    """A BT reward model really trained (a few steps) on arithmetic pairs from `base` (a tiny model from
    `save_tiny_model`, or any alias / directory); returns its export directory (`<workdir>/export`)."""
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import ObjectiveConfig
    from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
    from rewardkit.training.run import run_training

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    data = write_jsonl(workdir / "pairs.jsonl", arithmetic_rows(48, seed=seed))
    run_training(
        RunConfig(
            model=ModelConfig(name=str(base), tuning=tuning, top_layers=2),
            data=DataConfig(
                train=[str(data)], heldout_fraction=0.0, max_length=max_length, use_chat_template=use_chat_template
            ),
            objective=ObjectiveConfig(objective="bt"),
            training=TrainConfig(
                output_dir=str(workdir),
                max_steps=steps,
                batch_size=8,
                learning_rate=learning_rate,
                seed=seed,
                save_steps=10_000,
                report_to=[],
                eval_before=False,
            ),
        )
    )
    return workdir / "export"


TINY_RL_OPTIONS: dict[str, Any] = {
    "families": "arithmetic",
    "n_per_family": 2,
    "eval_families": "arithmetic",
    "eval_n_per_family": 2,
    "steps": 2,
    "num_generations": 2,
    "max_completion_length": 6,
    "eval_max_new_tokens": 6,
}


def tiny_rl_args(reward: str | Path, policy: str | Path, output_dir: str | Path, **options: Any) -> list[str]:
    """`rewardkit rl` arguments for a two-step run on a tiny policy: `TINY_RL_OPTIONS`, updated by `options`."""
    return cli_args("rl", reward=reward, policy=policy, output_dir=output_dir, **{**TINY_RL_OPTIONS, **options})
