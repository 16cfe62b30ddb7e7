"""Other tools' reward computations, run through their own code: what the parity tests and benchmarks/parity.py
compare `rewardkit score` with.

  trl_grpo_rewards     TRL's GRPOTrainer with `reward_funcs=<model dir>`: its own `_calculate_rewards`
  seqcls_rewards       AutoModelForSequenceClassification on the tokenizer's chat-template render
  pipeline_rewards     pipeline("text-classification", function_to_apply="none") on rendered texts

Everything runs in float32 on the CPU (TRL's default bf16 autocast would round rewards to ~3 digits).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

Messages = list[dict[str, str]]

# Conversations the parity checks score: single and multi-turn, a system prompt, leading space, trailing newline.
PARITY_CONVERSATIONS: list[tuple[Messages, str]] = [
    ([{"role": "user", "content": "What is 12+30?"}], "42."),
    ([{"role": "user", "content": "What is 7+5?"}], "Maybe 42, who knows"),
    ([{"role": "user", "content": "What is 3+4?"}], "7."),
    ([{"role": "user", "content": "What is 20+22?"}], "Maybe 447, who knows"),
    ([{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 1+1?"}], "2."),
    (
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "What is 9+9?"},
        ],
        "18.",
    ),
    ([{"role": "user", "content": "Name a colour"}], " Blue, I think"),
    ([{"role": "user", "content": "Write two lines"}], "one\ntwo\n"),
]


def render_conversations(tokenizer: Any, prompts: Sequence[Messages], responses: Sequence[str]) -> list[str]:
    """Each conversation (prompt messages + the assistant response) rendered by the tokenizer's own chat template,
    as TRL, verl and a pipeline user render it (no generation prompt)."""
    return [
        tokenizer.apply_chat_template(list(p) + [{"role": "assistant", "content": r}], tokenize=False)
        for p, r in zip(prompts, responses)
    ]


def openrlhf_queries(renderer: Any, eos_token: str, conversations: Sequence[tuple[Messages, str]]) -> list[str]:
    """What OpenRLHF sends /get_reward: the prompt rendered for generation + the generated text + EOS. After the plain
    template's "Assistant:" a policy generates the space the template puts before a response."""
    return [renderer.prompt_text(p) + renderer.response_prefix + r + eos_token for p, r in conversations]


def trl_grpo_rewards(
    reward_func: str | Path | Any, prompts: Sequence[Any], completions: Sequence[Any], *, tokenizer: Any = None
) -> list[float]:
    """Rewards TRL's GRPOTrainer computes with `reward_funcs=reward_func`: a reward-model path (TRL loads the model and
    its tokenizer from it) or a reward function. The trainer is built as a user builds it, then its own
    `_calculate_rewards` runs on conversational (message lists) or standard (string) prompts and completions."""
    from datasets import Dataset
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    is_path = isinstance(reward_func, (str, Path))
    if tokenizer is None:
        if not is_path:
            raise ValueError("a reward function needs the policy's tokenizer (tokenizer=)")
        tokenizer = AutoTokenizer.from_pretrained(reward_func)
    # the policy is never run: a one-layer random model with the tokenizer's vocabulary
    policy = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
    )
    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(
            output_dir=out,
            per_device_train_batch_size=2,
            num_generations=2,
            report_to=[],
            use_cpu=True,
            bf16=False,
            max_completion_length=8,
        )
        trainer = GRPOTrainer(
            model=policy,
            reward_funcs=str(reward_func) if is_path else reward_func,
            args=args,
            processing_class=tokenizer,
            train_dataset=Dataset.from_dict({"prompt": list(prompts)[:2]}),
        )
        inputs = [{"prompt": p, "completion": c} for p, c in zip(prompts, completions)]
        rewards = trainer._calculate_rewards(inputs, list(prompts), list(completions), [[0]] * len(inputs))
    return rewards[:, 0].tolist()


@torch.no_grad()
def seqcls_rewards(model_dir: str | Path, texts: Sequence[str]) -> list[float]:
    """AutoModelForSequenceClassification + its tokenizer on rendered texts, one at a time: `.logits[0, 0]`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return [model(**tokenizer(t, return_tensors="pt", add_special_tokens=False)).logits[0, 0].item() for t in texts]


def pipeline_rewards(model_dir: str | Path, texts: Sequence[str]) -> list[float]:
    """A transformers text-classification pipeline with the raw score (no sigmoid / softmax)."""
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(model_dir), device="cpu")
    return [out["score"] for out in classify(list(texts), function_to_apply="none", batch_size=1)]
