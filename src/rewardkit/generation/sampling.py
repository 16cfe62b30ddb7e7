"""Batched, seeded sampling from a causal LM policy with its chat template, cached on disk.

    policy = load_policy("smollm2-135m")
    responses = generate(policy, prompts, n=8, config=SamplingConfig(max_new_tokens=64, seed=0))  # [[str] * 8]

Prompts are rendered like the reward models render them (`data.encoding.PromptRenderer`: the chat template
with its generation prompt, or the plain Human:/Assistant: template), left-padded and generated in batches
of `batch_size` sequences. Every batch re-seeds torch with (seed, batch index), so a run is reproducible.
Results are cached under `cache_dir` (default $REWARDKIT_HOME/generations), keyed by the policy's files,
the rendered prompts and every sampling parameter: re-scoring never re-generates.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from rewardkit.config import option
from rewardkit.data.encoding import PromptRenderer
from rewardkit.files import write_text_atomic
from rewardkit.rewards.base import Messages

log = logging.getLogger("rewardkit.generation")


@dataclass
class SamplingConfig:
    """Generation settings (temperature 1, top_p 1, top_k 0: plain ancestral sampling)."""

    max_new_tokens: int = option(128, "Most tokens generated per response.")
    temperature: float = option(1.0, "Sampling temperature (> 0).")
    top_p: float = option(1.0, "Nucleus sampling mass (1: off).")
    top_k: int = option(0, "Sample among the k likeliest tokens (0: off).")
    batch_size: int = option(16, "Sequences per generate call.")
    seed: int = option(0, "Sampling seed.")
    use_chat_template: bool = option(
        True, "Render prompts with the policy's chat template (else the plain Human:/Assistant: template)."
    )
    cache_dir: str | None = option(
        None, "Generation cache directory; none: $REWARDKIT_HOME/generations; 'off' disables it."
    )

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 (use greedy decoding instead of 0), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0 or self.batch_size < 1:
            raise ValueError("top_k must be >= 0 and batch_size >= 1")


@dataclass
class Policy:
    """A loaded causal LM and its (left-padding) tokenizer; `name` is what it was loaded from."""

    name: str
    model: Any
    tokenizer: Any
    fingerprint: str


def load_policy(name: str, *, dtype: str = "float32", adapter: str | None = None) -> Policy:
    """A causal LM by alias / path / hub id (optionally with a PEFT adapter dir), in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rewardkit.models.registry import resolve_model
    from rewardkit.models.reward_model import torch_dtype

    path = resolve_model(name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype(dtype))
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    files = [path] + ([adapter] if adapter else [])
    return Policy(name=name, model=model, tokenizer=tokenizer, fingerprint=model_fingerprint(files))


def model_fingerprint(paths: Sequence[str]) -> str:
    """Identity of model files for the cache: path, size and mtime of weights and configs (hub ids: the id)."""
    parts = []
    for p in paths:
        folder = Path(p)
        if not folder.is_dir():
            parts.append(str(p))
            continue
        for f in sorted(folder.iterdir()):
            if f.suffix in (".safetensors", ".bin", ".json") and f.is_file():
                st = f.stat()
                parts.append(f"{f.resolve()}:{st.st_size}:{int(st.st_mtime)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def render_prompts(tokenizer: Any, prompts: Sequence[Messages], use_chat_template: bool = True) -> list[str]:
    renderer = PromptRenderer(tokenizer, use_chat_template)
    return [renderer.prompt_text(list(p)) for p in prompts]


def _cache_path(config: SamplingConfig, key: str) -> Path | None:
    if config.cache_dir == "off":
        return None
    from rewardkit.models.registry import rewardkit_home

    root = Path(config.cache_dir) if config.cache_dir else rewardkit_home() / "generations"
    return root / f"{key}.json"


def cache_key(policy: Policy, texts: Sequence[str], n: int, greedy: bool, config: SamplingConfig) -> str:
    params = {k: v for k, v in asdict(config).items() if k != "cache_dir"}
    payload = json.dumps(
        {"model": policy.fingerprint, "prompts": list(texts), "n": n, "greedy": greedy, "params": params},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


@torch.no_grad()
def generate(
    policy: Policy,
    prompts: Sequence[Messages],
    n: int = 1,
    config: SamplingConfig | None = None,
    *,
    greedy: bool = False,
    desc: str = "generating",
) -> list[list[str]]:
    """`n` responses per prompt (greedy: n must be 1). Cached (see the module docstring)."""
    config = config or SamplingConfig()
    if n < 1 or (greedy and n != 1):
        raise ValueError(f"n must be >= 1 (and 1 for greedy decoding), got {n}")
    texts = render_prompts(policy.tokenizer, prompts, config.use_chat_template)
    cache = _cache_path(config, cache_key(policy, texts, n, greedy, config))
    if cache is not None and cache.exists():
        log.info("generations from cache %s", cache)
        return json.loads(cache.read_text())["responses"]
    out = _generate(policy, texts, n, config, greedy, desc)
    if cache is not None:
        write_text_atomic(
            cache,
            json.dumps(
                {
                    "model": policy.name,
                    "n": n,
                    "greedy": greedy,
                    "params": asdict(config),
                    "prompts": texts,
                    "responses": out,
                },
                ensure_ascii=False,
            ),
        )
    return out


def _generate(
    policy: Policy, texts: list[str], n: int, config: SamplingConfig, greedy: bool, desc: str
) -> list[list[str]]:
    tok, model = policy.tokenizer, policy.model
    per_batch = max(1, config.batch_size // n)
    sampling = {} if greedy else {"temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k}
    out: list[list[str]] = []
    starts = range(0, len(texts), per_batch)
    for b, start in enumerate(tqdm(starts, desc=desc, disable=len(starts) <= 1, leave=False)):
        torch.manual_seed(config.seed * 1_000_003 + b)
        enc = tok(texts[start : start + per_batch], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        ids = model.generate(
            **enc,
            do_sample=not greedy,
            num_return_sequences=n,
            max_new_tokens=config.max_new_tokens,
            pad_token_id=tok.pad_token_id,
            **sampling,
        )
        decoded = tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        out.extend(decoded[i * n : (i + 1) * n] for i in range(len(decoded) // n))
    return [[r.strip() for r in row] for row in out]
