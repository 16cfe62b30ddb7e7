"""Reward-scale diagnostics (PCRM's point is controlling it): how predicted margins relate to the prior
similarity of the two responses and to graded human preference strength.

Pure functions over per-pair values. Correlations are None when undefined (fewer than 2 pairs, or a
constant input). `PreferencePair.strength` per source: PandaLM = share of the 3 annotators agreeing with
the majority (2/3 or 1), summarize-from-feedback = labeler confidence 1-9, UltraFeedback / explicit
scores = chosen_score - rejected_score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from rewardkit.data.record import PreferencePair
from rewardkit.evaluation.scoring import PairScores


@dataclass
class MarginPoints:
    """Per-pair values of one model on one set: the primary margin, the prior similarity, the strength."""

    margins: list[float]
    similarity: list[float] | None = None
    strength: list[float | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.margins)
        if self.similarity is not None and len(self.similarity) != n:
            raise ValueError(f"{n} margins but {len(self.similarity)} similarities")
        if self.strength and len(self.strength) != n:
            raise ValueError(f"{n} margins but {len(self.strength)} strengths")


def _defined(x: np.ndarray, y: np.ndarray) -> bool:
    return x.size >= 2 and np.ptp(x) > 0 and np.ptp(y) > 0


def _as_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _pair(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D sequences of the same length, got shapes {a.shape} and {b.shape}")
    return a, b


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation; None when undefined."""
    a, b = _pair(x, y)
    return _as_float(stats.pearsonr(a, b).statistic) if _defined(a, b) else None


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman rank correlation (average ranks for ties); None when undefined."""
    a, b = _pair(x, y)
    return _as_float(stats.spearmanr(a, b).statistic) if _defined(a, b) else None


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b (corrected for ties in either variable); None when undefined."""
    a, b = _pair(x, y)
    return _as_float(stats.kendalltau(a, b, variant="b").statistic) if _defined(a, b) else None


def similarity_diagnostics(margins: Sequence[float], similarity: Sequence[float]) -> dict[str, Any]:
    """Mean prior similarity and its Pearson / Spearman correlation with the margin."""
    return {
        "similarity_mean": float(np.mean(similarity)) if len(similarity) else None,
        "margin_similarity_pearson": pearson(margins, similarity),
        "margin_similarity_spearman": spearman(margins, similarity),
    }


def strength_diagnostics(margins: Sequence[float], strength: Sequence[float | None]) -> dict[str, Any]:
    """Rank agreement of margins with graded preference strength, over the pairs that have one."""
    keep = [i for i, s in enumerate(strength) if s is not None]
    m = [margins[i] for i in keep]
    s = [float(strength[i]) for i in keep]
    return {
        "strength_pairs": len(keep),
        "strength_spearman": spearman(m, s) if keep else None,
        "strength_kendall": kendall_tau_b(m, s) if keep else None,
    }


def margin_diagnostics(points: MarginPoints) -> dict[str, Any]:
    """All diagnostics that the data allows: similarity correlations when similarities are given,
    strength rank correlations when any pair has a strength."""
    out: dict[str, Any] = {}
    if points.similarity is not None:
        out.update(similarity_diagnostics(points.margins, points.similarity))
    if any(s is not None for s in points.strength):
        out.update(strength_diagnostics(points.margins, points.strength))
    return out


def points_from_scores(
    scores: PairScores,
    pairs: Sequence[PreferencePair],
    similarity: dict[int, float] | None = None,
    *,
    implicit: bool = False,
) -> MarginPoints:
    """MarginPoints of the reward head (or, with `implicit`, of the implicit reward), in `scores` order;
    `similarity` maps a pair's index to its prior similarity."""
    chosen, rejected = (
        (scores.implicit_chosen, scores.implicit_rejected) if implicit else (scores.chosen, scores.rejected)
    )
    if chosen is None:
        raise ValueError(f"the scores have no {'implicit' if implicit else 'reward-head'} rewards")
    indices = scores.index.tolist()
    return MarginPoints(
        margins=(chosen.double() - rejected.double()).tolist(),
        similarity=[similarity[i] for i in indices] if similarity is not None else None,
        strength=[pairs[i].strength for i in indices],
    )
