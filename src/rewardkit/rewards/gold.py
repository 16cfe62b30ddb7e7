"""The built-in suite's programmatic gold scorers as a reward component (for experiments with a known truth)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardkit.data.record import DataError
from rewardkit.data.suite import gold_score
from rewardkit.rewards.base import Messages, check_batch


def has_gold(metas: Sequence[dict[str, Any]] | None) -> bool:
    """Whether every item carries suite meta (so a gold score exists)."""
    return bool(metas) and all(isinstance(m, dict) and "family" in m for m in metas)


@dataclass
class GoldReward:
    """`gold_score(meta, response)` in [0, 1]; every item needs its suite meta (a dict with 'family')."""

    name: str = "gold"

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        check_batch(prompts, responses, metas, self.name)
        if metas is None:
            raise DataError("the gold reward needs each item's suite meta", source=self.name, field="meta")
        out = []
        for i, (meta, response) in enumerate(zip(metas, responses)):
            if not isinstance(meta, dict) or "family" not in meta:
                raise DataError(
                    "expected the suite meta of the prompt (a dict with 'family')",
                    source=self.name,
                    index=i,
                    field="meta",
                )
            out.append(gold_score(meta, response))
        return out
