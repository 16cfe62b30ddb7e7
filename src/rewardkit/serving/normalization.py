"""Optional z-normalisation of served rewards: (reward - mean) / std, given at startup or measured on a
calibration file (JSON lines in `rewardkit score` input format) scored once before the server opens."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from rewardkit.config import ConfigError
from rewardkit.data.record import DataError
from rewardkit.serving.config import MIN_NORM_STD, NormalizationConfig
from rewardkit.serving.scorer import BatchScorer, Conversation


@dataclass(frozen=True)
class Normalization:
    """mean / std of the raw reward, and where they come from."""

    mean: float
    std: float
    source: str  # "flags" or the calibration file
    count: int | None = None  # calibration items

    def __post_init__(self) -> None:
        if not math.isfinite(self.mean):
            raise ValueError(f"normalisation mean must be finite, not {self.mean}")
        if not (math.isfinite(self.std) and self.std >= MIN_NORM_STD):
            raise ValueError(f"normalisation std must be finite and >= {MIN_NORM_STD:g}, not {self.std}")

    def apply(self, rewards: list[float]) -> list[float]:
        return [(r - self.mean) / self.std for r in rewards]

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "source": self.source, "count": self.count}


def score_all(
    scorer: BatchScorer,
    items: list[Conversation],
    *,
    batch_size: int = 16,
    source: str = "calibration",
    desc: str = "scoring",
) -> list[float]:
    """Raw rewards of `items` through a batch scorer, in order (sorted by length per batch for less padding)."""
    prepared = [scorer.prepare(item, i, source) for i, item in enumerate(items)]
    order = sorted(range(len(prepared)), key=lambda i: prepared[i].num_tokens)
    rewards = [0.0] * len(prepared)
    for start in tqdm(range(0, len(order), batch_size), desc=desc, disable=len(order) <= batch_size, leave=False):
        chunk = order[start : start + batch_size]
        for i, r in zip(chunk, scorer.score([prepared[i] for i in chunk])):
            rewards[i] = r
    return rewards


def calibrate(scorer: BatchScorer, items: list[Conversation], source: str, *, batch_size: int = 16) -> Normalization:
    """Mean and (population) std of the raw reward over calibration items."""
    if len(items) < 2:
        raise ValueError(f"calibration needs at least 2 items, {source} has {len(items)}")
    rewards = score_all(scorer, items, batch_size=batch_size, source=source, desc="calibrating")
    std = statistics.pstdev(rewards)
    if std < MIN_NORM_STD:
        raise ValueError(f"every calibration item of {source} gets the same reward (std {std:g}): cannot normalise")
    return Normalization(statistics.fmean(rewards), std, source, len(items))


def read_calibration(path: str) -> list[Conversation]:
    """Items of a JSON lines file in `rewardkit score` input format."""
    from rewardkit.data.score_items import parse_item, read_records

    lines, source = read_records(path)
    return [Conversation(*parse_item(r, i, source)) for i, r in lines]


def build_normalization(
    config: NormalizationConfig, scorer: BatchScorer, *, batch_size: int = 16
) -> Normalization | None:
    """The normalisation the config asks for (None when off)."""
    if config.norm_mean is not None and config.norm_std is not None:
        return Normalization(config.norm_mean, config.norm_std, "flags")
    if config.from_model:
        stats = getattr(scorer, "reward_stats", None)
        if not stats:
            raise ConfigError(
                "from_model: the model's config.json holds no reward mean / std (OpenRLHF's `mean`, "
                "`std`); give norm_mean / norm_std or a calibration file"
            )
        return Normalization(stats["mean"], stats["std"], "model config.json")
    if config.calibration:
        items = read_calibration(config.calibration)
        try:
            return calibrate(scorer, items, config.calibration, batch_size=batch_size)
        except DataError:
            raise
        except ValueError as e:
            raise ConfigError(str(e)) from e
    return None
