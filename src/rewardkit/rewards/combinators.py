"""Combining a holistic reward with aspect rewards: ALaRM's hierarchy and the baselines.

Pure functions over arrays (h: holistic reward after normalisation; a: the aspect total, i.e. the sum over
aspects of weight * shape(normalised aspect reward); w_h: holistic weight; t: threshold):

    holistic      w_h * h
    aspects       a
    weighted      a + w_h * h
    hierarchical  w_h * h          if h < t
                  a + w_h * h      otherwise (h >= t)

Token level: aspect rewards stay on their tokens (`place_on_tokens`), the holistic term goes on the last
token; the sum over tokens equals the sequence-level reward. Sigmoid shaping (paper: `--sigmoid_shaping`)
maps every aspect placement x to 1 / (1 + exp(-x)) - offset after normalisation and before the weight (the
paper's `avg_clip`, default 0). The paper's aspect models put a placement on every sentence; rewardkit's
event metrics (repetition, spelling) put one only on each bad event, so with offset 0 every penalty would
become a positive reward: use offset 0.5 with them (sign-preserving; a warning says so).
Paper defaults: long-form QA t = 0.6, w_h = 5; MT t = 0.5, w_h = 3 (h z-normalised).
Degenerate responses (rewards/degenerate.py) get h = `degenerate_penalty` (the paper: -10) in place of the
normalised holistic reward when one is set, so the hierarchy never adds aspect bonuses to them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardkit.rewards.base import (
    Messages,
    Placements,
    RewardComponent,
    ZNorm,
    component_placements,
    is_segment_level,
    is_token_level,
    save_stats,
)
from rewardkit.rewards.degenerate import DegenerateConfig, degenerate_mask

log = logging.getLogger("rewardkit.rewards")

COMBINE_MODES = ("hierarchical", "holistic", "aspects", "weighted")


# ------------------------------------------------------------------------------------------ pure functions


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def shape_placements(placements: Placements, sigmoid_shaping: bool, offset: float = 0.0) -> Placements:
    return [(o, sigmoid(v) - offset) for o, v in placements] if sigmoid_shaping else list(placements)


def combine(
    mode: str, holistic: np.ndarray, aspects: np.ndarray, threshold: float, holistic_weight: float
) -> np.ndarray:
    """Sequence-level rewards (see the module docstring); `holistic` and `aspects` have one value per response."""
    h, a = np.asarray(holistic, dtype=float), np.asarray(aspects, dtype=float)
    if mode == "holistic":
        return holistic_weight * h
    if mode == "aspects":
        return a.copy()
    if mode == "weighted":
        return a + holistic_weight * h
    if mode == "hierarchical":
        return np.where(h < threshold, holistic_weight * h, a + holistic_weight * h)
    raise ValueError(f"unknown combine mode {mode!r}; known: {', '.join(COMBINE_MODES)}")


def combine_tokens(
    mode: str, holistic: Sequence[float], aspect_tokens: Sequence[np.ndarray], threshold: float, holistic_weight: float
) -> list[np.ndarray]:
    """Token-level rewards: aspect rewards where they were placed, w_h * h added on the last token."""
    out = []
    for h, tokens in zip(holistic, aspect_tokens):
        tokens = np.asarray(tokens, dtype=float)
        if tokens.size == 0:
            raise ValueError("every response needs at least one token to carry its reward")
        use_aspects = mode in ("aspects", "weighted") or (mode == "hierarchical" and h >= threshold)
        use_holistic = mode in ("holistic", "weighted", "hierarchical")
        if mode not in COMBINE_MODES:
            raise ValueError(f"unknown combine mode {mode!r}; known: {', '.join(COMBINE_MODES)}")
        row = tokens.copy() if use_aspects else np.zeros_like(tokens)
        if use_holistic:
            row[-1] += holistic_weight * h
        out.append(row)
    return out


def place_on_tokens(placements: Placements, token_ends: Sequence[int]) -> np.ndarray:
    """Dense per-token rewards: each (char offset, value) goes on the first token ending at or after the offset
    (the token holding character offset-1); offsets past the last token go on the last token."""
    if not token_ends:
        raise ValueError("a response needs at least one token to place rewards on")
    ends = np.asarray(token_ends)
    row = np.zeros(len(ends))
    for offset, value in placements:
        index = min(int(np.searchsorted(ends, offset, side="left")), len(ends) - 1)
        row[index] += value
    return row


# --------------------------------------------------------------------------------------- reward function


@dataclass(frozen=True)
class CombineSettings:
    """How the holistic and aspect rewards are combined."""

    mode: str = "hierarchical"
    threshold: float = 0.6
    holistic_weight: float = 5.0
    sigmoid_shaping: bool = False
    sigmoid_offset: float = 0.0  # shaped = sigmoid(x) - offset (the paper's avg_clip)
    degenerate_penalty: float | None = None  # h of degenerate responses (the paper: -10); None: off
    degenerate: DegenerateConfig = DegenerateConfig()  # what counts as degenerate

    def __post_init__(self) -> None:
        if self.mode not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {', '.join(COMBINE_MODES)}, got {self.mode!r}")
        if not (math.isfinite(self.threshold) and math.isfinite(self.holistic_weight)):
            raise ValueError("threshold and holistic_weight must be finite")
        if self.degenerate_penalty is not None and not math.isfinite(self.degenerate_penalty):
            raise ValueError(f"degenerate_penalty must be finite, got {self.degenerate_penalty}")
        if not 0.0 <= self.sigmoid_offset <= 1.0:
            raise ValueError(f"sigmoid_offset must be in [0, 1], got {self.sigmoid_offset}")


@dataclass
class Aspect:
    """An aspect reward: its component, weight and whether it is z-normalised."""

    component: RewardComponent
    weight: float = 1.0
    normalize: bool = False
    source: str = ""  # fingerprint for its normalisation stats


@dataclass
class RewardBreakdown:
    """Every component's raw scores and the processed terms the combinators use, for one batch."""

    raw: dict[str, np.ndarray]  # component name -> raw sequence-level scores
    holistic: np.ndarray | None  # normalised holistic reward (None without a holistic component)
    aspect_terms: dict[str, np.ndarray]  # aspect name -> weight * shape(normalised), summed per response
    aspect_placements: list[Placements]  # processed placements of all aspects, per response
    settings: CombineSettings
    degenerate: np.ndarray | None = None  # True for degenerate responses (when a degenerate_penalty is set)

    @property
    def aspect_total(self) -> np.ndarray:
        n = len(self.aspect_placements)
        return sum(self.aspect_terms.values(), np.zeros(n)) if self.aspect_terms else np.zeros(n)

    def rewards(self, mode: str | None = None) -> np.ndarray:
        """Sequence-level rewards under `mode` (default: the configured one)."""
        mode = mode or self.settings.mode
        if self.holistic is None and mode != "aspects":
            raise ValueError(f"combine mode {mode!r} needs a holistic reward")
        h = self.holistic if self.holistic is not None else np.zeros(len(self.aspect_placements))
        return combine(mode, h, self.aspect_total, self.settings.threshold, self.settings.holistic_weight)

    def token_rewards(self, token_ends: Sequence[Sequence[int]], mode: str | None = None) -> list[np.ndarray]:
        """Token-level rewards, given each response's token end offsets (characters)."""
        mode = mode or self.settings.mode
        aspect_tokens = [place_on_tokens(p, ends) for p, ends in zip(self.aspect_placements, token_ends)]
        h = self.holistic if self.holistic is not None else np.zeros(len(aspect_tokens))
        if self.holistic is None and mode != "aspects":
            raise ValueError(f"combine mode {mode!r} needs a holistic reward")
        return combine_tokens(mode, h.tolist(), aspect_tokens, self.settings.threshold, self.settings.holistic_weight)


@dataclass
class RewardFunction:
    """Holistic + aspect components combined by `settings`; `fn(prompts, responses, metas) -> list[float]`.

    Components with `normalize` need z-normalisation stats (`stats`, measured by `calibrate` on policy outputs
    and saved to `stats_file`).
    """

    name: str
    settings: CombineSettings
    holistic: RewardComponent | None = None
    holistic_normalize: bool = False
    holistic_source: str = ""
    aspects: list[Aspect] = field(default_factory=list)
    stats: dict[str, ZNorm] = field(default_factory=dict)
    stats_file: Path | None = None

    def __post_init__(self) -> None:
        names = self.component_names()
        if len(set(names)) != len(names):
            raise ValueError(f"reward {self.name}: component names must be unique, got {names}")
        if self.holistic is None and self.settings.mode != "aspects":
            raise ValueError(f"reward {self.name}: combine {self.settings.mode!r} needs a holistic reward")
        if not self.aspects and self.settings.mode in ("aspects", "hierarchical", "weighted"):
            raise ValueError(f"reward {self.name}: combine {self.settings.mode!r} needs at least one aspect")
        self.__name__ = self.name  # TRL logs reward functions under __name__
        sparse = [
            a.component.name for a in self.aspects if is_token_level(a.component) and not is_segment_level(a.component)
        ]
        if self.settings.sigmoid_shaping and self.settings.sigmoid_offset == 0.0 and sparse:
            log.warning(
                "reward %s: sigmoid shaping with offset 0 turns the penalties of token-level aspects %s "
                "into positive rewards; set sigmoid_offset: 0.5",
                self.name,
                ", ".join(sparse),
            )

    # -- components
    def component_names(self) -> list[str]:
        return ([self.holistic.name] if self.holistic is not None else []) + [a.component.name for a in self.aspects]

    def components(self) -> dict[str, RewardComponent]:
        out = {self.holistic.name: self.holistic} if self.holistic is not None else {}
        out.update({a.component.name: a.component for a in self.aspects})
        return out

    def _normalized(self) -> dict[str, str]:
        """Names of normalised components -> their stats source fingerprint."""
        out = (
            {self.holistic.name: self.holistic_source} if self.holistic is not None and self.holistic_normalize else {}
        )
        out.update({a.component.name: a.source for a in self.aspects if a.normalize})
        return out

    def missing_stats(self) -> list[str]:
        """Normalised components without (matching) stats."""
        return [n for n, src in self._normalized().items() if n not in self.stats or self.stats[n].source != src]

    def _norm(self, name: str) -> ZNorm:
        if name in self.missing_stats():
            where = f" in {self.stats_file}" if self.stats_file else ""
            raise ValueError(
                f"reward {self.name}: component {name!r} is normalised but has no calibration "
                f"stats{where}; calibrate on policy outputs first (RewardFunction.calibrate; "
                "rewardkit bon / rl do it when stats are missing)"
            )
        return self.stats[name]

    # -- scoring
    def raw_scores(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> dict[str, np.ndarray]:
        return {
            name: np.asarray(c.score(prompts, responses, metas), dtype=float) for name, c in self.components().items()
        }

    def calibrate(
        self,
        prompts: Sequence[Messages],
        responses: Sequence[str],
        metas: Sequence[dict[str, Any]] | None = None,
        *,
        only_missing: bool = True,
        raw: dict[str, np.ndarray] | None = None,
    ) -> dict[str, ZNorm]:
        """Measure mean/std of every normalised component on these (policy) outputs; save to `stats_file`.
        `raw` (from `raw_scores` on the same items) avoids scoring them again."""
        wanted = self.missing_stats() if only_missing else list(self._normalized())
        if not wanted:
            return {}
        components, sources = self.components(), self._normalized()
        measured = {}
        for n in wanted:
            component = components[n]
            if is_segment_level(component):  # stats of the segment values, not of their sums
                values = [v for row in component.placements(prompts, responses, metas) for _, v in row]
            elif raw is not None and n in raw:
                values = raw[n].tolist()
            else:
                values = component.score(prompts, responses, metas)
            measured[n] = ZNorm.measure(values, f"{self.name}.{n}", sources[n])
        self.stats.update(measured)
        if self.stats_file is not None:
            save_stats(self.stats, self.stats_file)
            log.info("calibrated %s on %d responses; stats in %s", ", ".join(wanted), len(responses), self.stats_file)
        return measured

    def breakdown(
        self,
        prompts: Sequence[Messages],
        responses: Sequence[str],
        metas: Sequence[dict[str, Any]] | None = None,
        raw_scores: dict[str, np.ndarray] | None = None,
    ) -> RewardBreakdown:
        """Raw scores of every component and the processed holistic / aspect terms. `raw_scores` (from
        `raw_scores` on the same items) are reused for sequence-level components instead of scoring again."""
        given = raw_scores or {}
        n = len(responses)
        raw: dict[str, np.ndarray] = {}
        holistic = None
        if self.holistic is not None:
            name = self.holistic.name
            raw[name] = (
                given[name]
                if name in given
                else np.asarray(self.holistic.score(prompts, responses, metas), dtype=float)
            )
            holistic = raw[self.holistic.name]
            if self.holistic_normalize:
                holistic = np.asarray(self._norm(self.holistic.name).apply(holistic.tolist()))
        degenerate = None
        if self.settings.degenerate_penalty is not None:
            degenerate = degenerate_mask(responses, self.settings.degenerate)
            if holistic is not None:
                holistic = np.where(degenerate, self.settings.degenerate_penalty, holistic)
        placements: list[Placements] = [[] for _ in range(n)]
        terms: dict[str, np.ndarray] = {}
        for aspect in self.aspects:
            name = aspect.component.name
            if name in given and not is_token_level(aspect.component):
                rows = [[(len(r), float(v))] for r, v in zip(responses, given[name])]
            else:
                rows = component_placements(aspect.component, prompts, responses, metas)
            raw[name] = np.asarray([sum((v for _, v in row), 0.0) for row in rows])
            if aspect.normalize:
                norm = self._norm(name)
                rows = (
                    [norm.apply_each(row) for row in rows]
                    if is_segment_level(aspect.component)
                    else [norm.apply_placements(row, len(r)) for row, r in zip(rows, responses)]
                )
            rows = [
                [
                    (o, aspect.weight * v)
                    for o, v in shape_placements(row, self.settings.sigmoid_shaping, self.settings.sigmoid_offset)
                ]
                for row in rows
            ]
            terms[name] = np.asarray([sum((v for _, v in row), 0.0) for row in rows])
            for i, row in enumerate(rows):
                placements[i].extend(row)
        return RewardBreakdown(raw, holistic, terms, placements, self.settings, degenerate)

    def __call__(
        self,
        prompts: Sequence[Any],
        responses: Sequence[str] | None = None,
        metas: Sequence[dict[str, Any]] | None = None,
        *,
        completions: Sequence[Any] | None = None,
        **columns: Any,
    ) -> list[float]:
        """Rewards of (prompt messages, response) items; called the TRL way (`prompts=..., completions=...,
        **columns`) it behaves as `TRLRewardFunction(self)`, so the object itself can go in `reward_funcs`."""
        if completions is not None:
            from rewardkit.rewards.trl_adapter import TRLRewardFunction

            return TRLRewardFunction(self)(prompts, completions, **columns)
        if responses is None:
            raise TypeError(f"reward {self.name}: pass responses (or completions=, as TRL does)")
        return self.breakdown(prompts, responses, metas).rewards().tolist()
