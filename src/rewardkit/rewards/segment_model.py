"""A segment-level reward model (models/segment_model.py) as a token-level reward component.

`placements` gives one (character end, value) per segment of the response, the model's value with its sign
(positive = judged fine), so ALaRM's offset-0 sigmoid shaping turns each into a bounded positive bonus
sigmoid(z) in (0, 1) per segment, as the paper does with its fine-grained aspect models; `score` is their sum.

Normalisation (`normalize: true` in a reward YAML) is per segment: the mean and std are measured over the
segment values of the calibration (policy) samples and every placement becomes (value - mean) / std, so a
segment's shaped bonus reflects how it compares with typical segments. (Other token-level components are
normalised on their sequence sums; `segment_level = True` tells RewardFunction the difference.)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rewardkit.rewards.base import Messages, Placements, check_batch

log = logging.getLogger("rewardkit.rewards")


@dataclass
class SegmentModelReward:
    """Scores with a segment-model export (loaded on first use); the last batch's placements are kept, so the
    `score` and `placements` of the same items (best-of-N asks for both) run the model once."""

    path: str
    name: str = "segment"
    batch_size: int = 16
    max_length: int | None = None
    scorer: Any = field(default=None, repr=False)  # an evaluation.segments.SegmentScorer, or anything with .score
    segment_level: ClassVar[bool] = True
    _last: tuple[str, list[Placements]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"reward {self.name}: batch_size must be >= 1, got {self.batch_size}")

    def load(self) -> Any:
        if self.scorer is None:
            from rewardkit.evaluation.segments import load_segment_scorer

            log.info("loading segment model %s for %s", self.path, self.name)
            self.scorer = load_segment_scorer(self.path, max_length=self.max_length)
        return self.scorer

    def placements(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[Placements]:
        check_batch(prompts, responses, metas, self.name)
        if not responses:
            return []
        key = json.dumps([list(prompts), list(responses)], ensure_ascii=False)
        if self._last is not None and self._last[0] == key:
            return [list(row) for row in self._last[1]]
        rows = self.load().score(list(prompts), list(responses), batch_size=self.batch_size)
        bad = [i for i, row in enumerate(rows) if any(not math.isfinite(v) for _, v in row)]
        if bad:
            raise ValueError(f"reward {self.name} ({self.path}): non-finite segment value for item(s) {bad[:5]}")
        self._last = (key, rows)
        return [list(row) for row in rows]

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        """The sum of the segment values of each response (0.0 for a response without segments)."""
        return [sum((v for _, v in row), 0.0) for row in self.placements(prompts, responses, metas)]
