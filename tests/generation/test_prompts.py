"""Prompt sources: suite prompts with gold meta, distinct prompts of a real pairs file."""

from __future__ import annotations

import pytest

from rewardkit.generation.prompts import PromptConfig, load_prompts


def test_suite_prompts_carry_gold_meta_and_exclude():
    items = load_prompts(PromptConfig(n_per_family=2, families=["arithmetic", "language"], seed=1))
    assert len(items) == 4 and {it.meta["family"] for it in items} == {"arithmetic", "language"}
    held = load_prompts(PromptConfig(n_per_family=2, families=["arithmetic", "language"], seed=1), exclude=items)
    assert not {str(it.prompt) for it in held} & {str(it.prompt) for it in items}


def test_pairs_file_prompts(shared_data):
    source = str(shared_data / "hh-rlhf" / "helpful-base" / "test.jsonl.gz")
    items = load_prompts(PromptConfig(source=source, limit=10, seed=3, max_prompt_chars=600))
    assert len(items) == 10 and len({str(it.prompt) for it in items}) == 10
    assert all(sum(len(m["content"]) for m in it.prompt) <= 600 for it in items)
    assert all(it.prompt[-1]["role"] == "user" and it.meta == {} for it in items)
    assert load_prompts(PromptConfig(source=source, limit=10, seed=3, max_prompt_chars=600)) == items


def test_validation():
    with pytest.raises(ValueError):
        PromptConfig(limit=0)
