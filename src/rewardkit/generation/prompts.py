"""Prompts for best-of-N, aspect selection and RL: the built-in suite (with gold meta) or any pairs file."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from rewardkit.config import option
from rewardkit.rewards.base import Messages


@dataclass
class PromptConfig:
    """`source: suite` draws suite prompts (gold meta included); anything else is a pairs file or `hf:` spec
    whose distinct prompts are used (meta kept only when it is suite meta)."""

    source: str = option(
        "suite",
        "Prompts: 'suite' (the built-in suite, with gold meta), a pairs file or an hf: "
        "spec whose distinct prompts are used.",
    )
    n_per_family: int = option(4, "suite: prompts per task family.")
    families: list[str] | None = option(None, "suite: only these task families; none: all.")
    seed: int = option(1, "suite: generation seed (0 is the quickstart RM's training seed); files: the sampling seed.")
    limit: int | None = option(None, "At most this many prompts (a seeded sample for files).")
    max_prompt_chars: int | None = option(2000, "files: skip conversations longer than this many characters.")

    def __post_init__(self) -> None:
        if self.n_per_family < 1 or (self.limit is not None and self.limit < 1):
            raise ValueError("n_per_family and limit must be >= 1")


@dataclass
class PromptItem:
    prompt: Messages
    meta: dict[str, Any]


def load_prompts(config: PromptConfig, exclude: list[PromptItem] | None = None) -> list[PromptItem]:
    """The configured prompts; `exclude` removes prompts equal to those (e.g. RL train vs held-out)."""
    skip = {_key(p.prompt) for p in exclude or []}
    if config.source == "suite":
        from rewardkit.data.suite import suite_prompts

        items = [
            PromptItem(p.prompt, dict(p.meta))
            for p in suite_prompts(
                config.n_per_family,
                seed=config.seed,
                families=config.families,
                exclude=[p.prompt for p in exclude or []],
            )
        ]
    else:
        from rewardkit.data.loading import load_pairs

        seen: set[str] = set()
        items = []
        for pair in load_pairs(config.source):
            key = _key(pair.prompt)
            if key in seen or key in skip:
                continue
            if config.max_prompt_chars and sum(len(m["content"]) for m in pair.prompt) > config.max_prompt_chars:
                continue
            seen.add(key)
            items.append(PromptItem(pair.prompt, dict(pair.meta) if "family" in pair.meta else {}))
        if config.limit is not None and len(items) > config.limit:
            items = random.Random(f"rewardkit-prompts:{config.seed}").sample(items, config.limit)
    return items[: config.limit] if config.limit is not None else items


def _key(prompt: Messages) -> str:
    return json.dumps([[m["role"], m["content"]] for m in prompt], ensure_ascii=False)
