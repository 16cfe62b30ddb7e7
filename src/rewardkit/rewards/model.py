"""A rewardkit reward model as a reward component (batched scoring through `evaluation.evaluate.Scorer`).

Z-normalisation is not done here but by the reward function, with the mean/std measured on a calibration
set of policy outputs and stored in the reward's stats file (see `rewards.config`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.rewards.base import Messages, check_batch

log = logging.getLogger("rewardkit.rewards")


@dataclass
class ModelReward:
    """Scores with a checkpoint (exported rewardkit model, alias or local dir): its reward head, or the
    implicit reward for a DPO export. The model is loaded on first use; the last batch's scores are kept, so
    scoring the same items again (one component shared by several reward functions) runs the model once."""

    path: str
    name: str = "holistic"
    batch_size: int = 16
    max_length: int | None = None
    scorer: Any = field(default=None, repr=False)  # an evaluation.evaluate.Scorer, or anything with .score
    _last: tuple[str, list[float]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"reward {self.name}: batch_size must be >= 1, got {self.batch_size}")

    def load(self) -> Any:
        if self.scorer is None:
            from rewardkit.evaluation.evaluate import load_scorer

            log.info("loading reward model %s for %s", self.path, self.name)
            self.scorer = load_scorer(self.path, max_length=self.max_length)
        return self.scorer

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        check_batch(prompts, responses, metas, self.name)
        if not responses:
            return []
        batch = json.dumps([list(prompts), list(responses)], ensure_ascii=False)
        if self._last is not None and self._last[0] == batch:
            return list(self._last[1])
        scorer = self.load()
        out = scorer.score(list(prompts), list(responses), batch_size=self.batch_size)
        key = "rewards" if "rewards" in out else "implicit"
        values = [float(v) for v in out[key].tolist()]
        bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
        if bad:
            raise ValueError(f"reward {self.name} ({self.path}): non-finite score for item(s) {bad[:5]}")
        self._last = (batch, values)
        return list(values)
