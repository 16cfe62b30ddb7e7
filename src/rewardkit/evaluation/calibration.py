"""Calibration of pairwise preference probabilities: does sigmoid(margin) mean what it says?

A reward model (Bradley-Terry) or a DPO policy (implicit reward) predicts P(chosen > rejected) =
sigmoid(margin). Every evaluated pair has the chosen response as the human-preferred one, so calibration
is measured on the *top-label* confidence (Guo et al. 2017): confidence = max(p, 1 - p) in [0.5, 1],
correct = margin > 0 (a tie is wrong, as in strict accuracy, with confidence 0.5). The expected calibration
error bins the confidences into equal-width bins over [0.5, 1]:

    ECE = sum_b (n_b / N) * |accuracy_b - mean confidence_b|

Also two proper scoring rules of p itself: the log loss -mean log sigmoid(margin) (= the BT loss) and the
Brier score mean (1 - p)^2. Pure functions over margins (numpy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin [lower, upper) (the last bin includes 1.0); empty bins have pairs = 0."""

    lower: float
    upper: float
    pairs: int
    confidence: float | None  # mean confidence of the bin's pairs
    accuracy: float | None  # fraction of the bin's pairs with margin > 0


@dataclass(frozen=True)
class Calibration:
    ece: float
    max_gap: float  # largest |accuracy - confidence| over non-empty bins (maximum calibration error)
    log_loss: float
    brier: float
    mean_confidence: float
    accuracy: float
    bins: list[ReliabilityBin]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _margins(margins: Sequence[float] | np.ndarray) -> np.ndarray:
    m = np.asarray(margins, dtype=np.float64)
    if m.ndim != 1 or m.size == 0:
        raise ValueError(f"need a non-empty 1-D sequence of margins, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("margins must be finite")
    return m


def preference_probability(margins: Sequence[float] | np.ndarray) -> np.ndarray:
    """sigmoid(margin): the predicted probability that the chosen response is preferred (stable form)."""
    m = _margins(margins)
    return np.exp(-np.logaddexp(0.0, -m))


def bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins over [0.5, 1]; confidence 1.0 falls into the last bin."""
    width = 0.5 / n_bins
    return np.minimum(((confidence - 0.5) / width).astype(np.int64), n_bins - 1)


def calibration(margins: Sequence[float] | np.ndarray, n_bins: int = DEFAULT_BINS) -> Calibration:
    """ECE, maximum gap, log loss, Brier score and the reliability bins of a set of margins."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    m = _margins(margins)
    p = preference_probability(m)
    confidence = np.maximum(p, 1.0 - p)
    correct = m > 0
    index = bin_index(confidence, n_bins)
    width = 0.5 / n_bins
    bins: list[ReliabilityBin] = []
    ece, max_gap = 0.0, 0.0
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        lower, upper = 0.5 + b * width, 0.5 + (b + 1) * width
        if count == 0:
            bins.append(ReliabilityBin(lower, upper, 0, None, None))
            continue
        conf, acc = float(confidence[members].mean()), float(correct[members].mean())
        gap = abs(acc - conf)
        ece += count / m.size * gap
        max_gap = max(max_gap, gap)
        bins.append(ReliabilityBin(lower, upper, count, conf, acc))
    return Calibration(
        ece=float(ece),
        max_gap=float(max_gap),
        log_loss=float(np.mean(np.logaddexp(0.0, -m))),
        brier=float(np.mean((1.0 - p) ** 2)),
        mean_confidence=float(confidence.mean()),
        accuracy=float(correct.mean()),
        bins=bins,
    )
