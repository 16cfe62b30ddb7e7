"""KL to the initial policy and the held-out score during `rewardkit rl`: the RL side of over-optimisation
curves (`rewardkit overopt --rl-runs`).

Before the first step and every `every` steps (and at the last), `KLScoreTracker` samples `samples` responses
per held-out prompt from the current policy at the training temperature, scores them with the held-out scorer
(the suite's gold scorer on suite prompts), and estimates KL(pi || pi_0) to the initial policy pi_0 (the same
model with its LoRA adapter switched off) as the mean over the samples of

    sum_t KL( pi(. | x, y_<t) || pi_0(. | x, y_<t) )      (full-vocabulary KL at each sampled position)

an unbiased estimate of the sequence-level KL with less variance than the sampled log-ratio. Measurements run
under a forked RNG and in eval mode, so the training run itself is unchanged, and every measurement starts from the
same seed (common random numbers: while the policy moves little, its samples, and so the measured change, move
little too). Each
measurement is appended to `<output_dir>/tracking.json` as it is made (a killed run keeps its series).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

from rewardkit.files import write_json_atomic
from rewardkit.generation.prompts import PromptItem
from rewardkit.generation.sampling import render_prompts

log = logging.getLogger("rewardkit.generation")

TRACKING_FILE = "tracking.json"


@dataclass
class TrackingConfig:
    """When and how `rewardkit rl` measures KL to the initial policy and the held-out score."""

    every: int | None = None  # steps between measurements; None: about 8 over the run; 0: off
    samples: int = 2  # responses per held-out prompt per measurement
    max_new_tokens: int | None = None  # default: training.max_completion_length
    batch_size: int = 16  # sequences per generate / forward call
    seed: int = 0

    def __post_init__(self) -> None:
        if (self.every is not None and self.every < 0) or self.samples < 1 or self.batch_size < 1:
            raise ValueError("tracking: every must be >= 0 (0: off), samples and batch_size >= 1")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"tracking.max_new_tokens must be >= 1, got {self.max_new_tokens}")

    def interval(self, steps: int) -> int:
        """Steps between measurements (0: off)."""
        return max(1, math.ceil(steps / 8)) if self.every is None else self.every


def token_kl(logits: torch.Tensor, ref_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """KL(softmax(logits / T) || softmax(ref_logits / T)) over the last axis, per position (float32)."""
    logp = torch.log_softmax(logits.float() / temperature, dim=-1)
    ref = torch.log_softmax(ref_logits.float() / temperature, dim=-1)
    return (logp.exp() * (logp - ref)).sum(-1)


def completion_mask(completion: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """True for the tokens of each generated row up to and including its first EOS (the rest is padding)."""
    is_eos = (completion == eos_token_id).int()
    return (is_eos.cumsum(1) - is_eos) == 0


@torch.no_grad()
def sample_kl(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    n: int,
    *,
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
) -> tuple[list[str], np.ndarray]:
    """`n` sampled responses per rendered prompt from `model` (a PEFT model) and the KL of each to the model
    with its adapter disabled (sum over the response of the per-token KL); prompt-major order."""
    eos = tokenizer.eos_token_id
    per_batch = max(1, batch_size // n)
    responses: list[str] = []
    kls: list[float] = []
    for start in range(0, len(texts), per_batch):
        enc = tokenizer(
            list(texts[start : start + per_batch]), return_tensors="pt", padding=True, add_special_tokens=False
        ).to(model.device)
        out = model.generate(
            **enc,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=n,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=eos,
        )
        width = enc["input_ids"].shape[1]
        completion = out[:, width:]
        mask = completion_mask(completion, eos)
        kls.extend(sequence_kl(model, out, enc["attention_mask"].repeat_interleave(n, 0), mask, temperature).tolist())
        for row, keep in zip(completion, mask):
            responses.append(tokenizer.decode(row[keep], skip_special_tokens=True).strip())
    return responses, np.asarray(kls)


@torch.no_grad()
def sequence_kl(
    model: Any,
    sequences: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_mask: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Per row of `sequences` (left-padded prompt, then completion): the sum over the completion tokens that
    `completion_mask` keeps of KL(model || model with its adapter disabled) at each position."""
    if not callable(getattr(model, "disable_adapter", None)):
        raise TypeError("KL to the initial policy needs a PEFT (LoRA) policy: its adapter off is the initial policy")
    width = prompt_mask.shape[1]
    attention = torch.cat([prompt_mask, completion_mask.long()], dim=1)
    positions = (attention.cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=sequences, attention_mask=attention, position_ids=positions).logits[:, width - 1 : -1]
    with model.disable_adapter():
        ref = model(input_ids=sequences, attention_mask=attention, position_ids=positions).logits[:, width - 1 : -1]
    return (token_kl(logits, ref, temperature) * completion_mask).sum(1)


def mean_and_se(per_prompt: np.ndarray) -> tuple[float, float]:
    """Mean over prompts of (prompts, samples) values, and its SE over prompts."""
    means = per_prompt.mean(axis=1)
    se = float(means.std(ddof=1) / math.sqrt(len(means))) if len(means) > 1 else math.nan
    return float(means.mean()), se


class KLScoreTracker(TrainerCallback):
    """Measures (step, KL to the initial policy, held-out score) during training; see the module docstring."""

    def __init__(
        self,
        config: TrackingConfig,
        items: Sequence[PromptItem],
        scorer: Callable[..., Sequence[float]],
        score_name: str,
        tokenizer: Any,
        *,
        steps: int,
        temperature: float,
        max_new_tokens: int,
        output_dir: str | Path | None = None,
    ):
        if not items:
            raise ValueError("KL / score tracking needs held-out prompts")
        self.config = config
        self.items = list(items)
        self.scorer = scorer
        self.score_name = score_name
        self.tokenizer = tokenizer
        self.every = config.interval(steps)
        self.steps = steps
        self.temperature = temperature
        self.max_new_tokens = config.max_new_tokens or max_new_tokens
        self.file = Path(output_dir) / TRACKING_FILE if output_dir is not None else None
        self.records: list[dict[str, Any]] = []
        self.texts = render_prompts(tokenizer, [it.prompt for it in self.items])

    def summary(self) -> dict[str, Any]:
        return {
            "score": self.score_name,
            "every": self.every,
            "samples_per_prompt": self.config.samples,
            "prompts": len(self.items),
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
            "records": self.records,
        }

    def measure(self, model: Any, step: int) -> dict[str, Any]:
        started = time.time()
        was_training = model.training
        model.eval()
        side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.config.seed)  # the same seed every time: common random numbers
                responses, kl = sample_kl(
                    model,
                    self.tokenizer,
                    self.texts,
                    self.config.samples,
                    max_new_tokens=self.max_new_tokens,
                    temperature=self.temperature,
                    batch_size=self.config.batch_size,
                )
        finally:
            self.tokenizer.padding_side = side
            model.train(was_training)
        n = self.config.samples
        prompts = [it.prompt for it in self.items for _ in range(n)]
        metas = [it.meta for it in self.items for _ in range(n)]
        scores = np.asarray(self.scorer(prompts, responses, metas), dtype=float).reshape(len(self.items), n)
        kl_mean, kl_se = mean_and_se(kl.reshape(len(self.items), n))
        score, score_se = mean_and_se(scores)
        record = {
            "step": step,
            "kl": kl_mean,
            "kl_se": kl_se,
            "score": score,
            "score_se": score_se,
            "seconds": round(time.time() - started, 1),
        }
        self.records.append(record)
        log.info(
            "step %d: KL to the initial policy %.4f ± %.4f, held-out %s %.4f ± %.4f",
            step,
            kl_mean,
            kl_se,
            self.score_name,
            score,
            score_se,
        )
        if self.file is not None:
            write_json_atomic(self.file, self.summary())
        return record

    # ---- TrainerCallback ----------------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if self.every and not self.records:
            self.measure(model, state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        step = state.global_step
        if self.every and (step % self.every == 0 or step >= self.steps):
            self.measure(model, step)
