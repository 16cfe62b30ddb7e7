"""Batched seeded sampling with the chat template, and its disk cache."""

from __future__ import annotations

import pytest

from rewardkit.generation import sampling
from rewardkit.generation.sampling import SamplingConfig, generate, load_policy, render_prompts

PROMPTS = [
    [{"role": "user", "content": "Hello there"}],
    [{"role": "user", "content": "Name a colour."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
]


@pytest.fixture(scope="module")
def policy(tiny_model_dir):
    return load_policy(str(tiny_model_dir))


def test_shapes_seeds_and_greedy(policy):
    cfg = SamplingConfig(max_new_tokens=6, batch_size=4, seed=3, cache_dir="off")
    first = generate(policy, PROMPTS, 3, cfg)
    assert [len(row) for row in first] == [3, 3, 3] and all(isinstance(r, str) for row in first for r in row)
    assert generate(policy, PROMPTS, 3, cfg) == first  # same seed, same samples
    other = generate(policy, PROMPTS, 3, SamplingConfig(max_new_tokens=6, batch_size=4, seed=4, cache_dir="off"))
    assert other != first
    greedy = generate(policy, PROMPTS, 1, cfg, greedy=True)
    assert greedy == generate(
        policy, PROMPTS, 1, SamplingConfig(max_new_tokens=6, seed=9, cache_dir="off"), greedy=True
    )
    with pytest.raises(ValueError, match="greedy"):
        generate(policy, PROMPTS, 2, cfg, greedy=True)


def test_prompts_use_the_chat_template(policy):
    text = render_prompts(policy.tokenizer, PROMPTS[2:])[0]
    assert text.startswith("<|im_start|>system\nBe brief.") and text.endswith("<|im_start|>assistant\n")
    assert policy.tokenizer.padding_side == "left"


def test_cache_hit_does_not_generate(policy, tmp_path, monkeypatch):
    cfg = SamplingConfig(max_new_tokens=5, cache_dir=str(tmp_path))
    first = generate(policy, PROMPTS, 2, cfg)
    assert len(list(tmp_path.glob("*.json"))) == 1

    def boom(*args, **kwargs):
        raise AssertionError("re-generated despite the cache")

    monkeypatch.setattr(sampling, "_generate", boom)
    assert generate(policy, PROMPTS, 2, cfg) == first
    with pytest.raises(AssertionError, match="re-generated"):  # another parameter: another key
        generate(policy, PROMPTS, 2, SamplingConfig(max_new_tokens=5, temperature=0.7, cache_dir=str(tmp_path)))


def test_config_validation():
    with pytest.raises(ValueError, match="temperature"):
        SamplingConfig(temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=1.5)
