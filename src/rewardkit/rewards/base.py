"""What every reward component is: a named scorer of (prompt, response) batches, optionally token-level.

A component returns one float per response (`score`). A token-level component also returns *placements*
(`placements`): for each response a list of (character end offset, value) pairs whose values sum to its
score; `combinators.place_on_tokens` moves each value onto the token holding that character, as ALaRM puts
sentence-level rewards on the sentence's last token. Sequence-level components have one placement at the
end of the response.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rewardkit.files import write_json_atomic

Messages = list[dict[str, str]]
Placements = list[tuple[int, float]]  # (character end offset in the response, value)


@runtime_checkable
class RewardComponent(Protocol):
    """A reward: `score(prompts, responses, metas) -> list[float]`, one per response, higher is better.

    `metas` holds per-item metadata (e.g. the suite's gold-scorer meta); components that do not need it
    ignore it. Token-level components also define `placements(prompts, responses, metas)`.
    """

    name: str

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]: ...


def is_token_level(component: RewardComponent) -> bool:
    return callable(getattr(component, "placements", None))


def is_segment_level(component: RewardComponent) -> bool:
    """A token-level component with a value on every segment (rewards/segment_model.py): normalised per
    placement, and its values are not event penalties."""
    return is_token_level(component) and bool(getattr(component, "segment_level", False))


def component_placements(
    component: RewardComponent,
    prompts: Sequence[Messages],
    responses: Sequence[str],
    metas: Sequence[dict[str, Any]] | None = None,
) -> list[Placements]:
    """Placements of any component: its own for token-level ones, else its score at the end of the response."""
    if is_token_level(component):
        return component.placements(prompts, responses, metas)  # type: ignore[attr-defined]
    return [[(len(r), s)] for r, s in zip(responses, component.score(prompts, responses, metas))]


def check_batch(prompts: Sequence[Any], responses: Sequence[Any], metas: Sequence[Any] | None, name: str) -> None:
    """Same lengths, string responses; errors name the component and the item."""
    if len(prompts) != len(responses):
        raise ValueError(f"reward {name}: {len(prompts)} prompts but {len(responses)} responses")
    if metas is not None and len(metas) != len(responses):
        raise ValueError(f"reward {name}: {len(metas)} metas but {len(responses)} responses")
    for i, r in enumerate(responses):
        if not isinstance(r, str):
            raise TypeError(f"reward {name}: response {i} must be a string, got {type(r).__name__}")


@dataclass(frozen=True)
class ZNorm:
    """z-normalisation (x - mean) / std of a component's raw score, measured on a calibration set."""

    mean: float
    std: float
    count: int = 0
    source: str = ""  # what was calibrated (e.g. "model:<path>"): stats of another source are not reused

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError(f"normalisation mean must be finite, got {self.mean}")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"normalisation std must be positive and finite, got {self.std}")

    @classmethod
    def measure(cls, values: Sequence[float], name: str = "reward", source: str = "") -> ZNorm:
        """Mean and population std of calibration scores (at least 2, not all equal)."""
        if len(values) < 2:
            raise ValueError(f"calibrating {name} needs at least 2 scores, got {len(values)}")
        std = statistics.pstdev(values)
        if std <= 0:
            raise ValueError(f"calibrating {name}: every calibration response gets the same score {values[0]}")
        return cls(statistics.fmean(values), std, len(values), source)

    def apply(self, values: Sequence[float]) -> list[float]:
        return [(v - self.mean) / self.std for v in values]

    def apply_each(self, placements: Placements) -> Placements:
        """z-normalise every placement on its own (segment-level components: stats of segment values)."""
        return [(o, (v - self.mean) / self.std) for o, v in placements]

    def apply_placements(self, placements: Placements, end: int) -> Placements:
        """Scale every placement by 1/std and put -mean/std at the end: the sum is then z-normalised."""
        return [(o, v / self.std) for o, v in placements] + [(end, -self.mean / self.std)]


def load_stats(path: str | Path) -> dict[str, ZNorm]:
    """{component name: ZNorm} from a stats JSON file ({} when it does not exist)."""
    file = Path(path)
    if not file.exists():
        return {}
    data = json.loads(file.read_text())
    try:
        return {name: ZNorm(**entry) for name, entry in data.items()}
    except (TypeError, ValueError) as e:
        raise ValueError(f"{file}: bad normalisation stats ({e})") from e


def save_stats(stats: dict[str, ZNorm], path: str | Path) -> Path:
    return write_json_atomic(path, {k: asdict(v) for k, v in sorted(stats.items())})
