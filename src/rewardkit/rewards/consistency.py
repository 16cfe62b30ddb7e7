"""Choosing aspects by their consistency with the holistic reward (ALaRM, section "reward selection").

For each prompt the policy gives a greedy and a sampled response; every reward states a preference between
them (+1 greedy, -1 sampled, 0 tie within `tolerance`). For an aspect:

    inconsistency rate = #(holistic and aspect both strict, and they disagree) / #(holistic strict)
    coverage           = #(holistic and aspect both strict) / #(holistic strict)
    greedy win rate    = (#aspect prefers greedy + 0.5 * #ties) / #prompts

Aspects are ranked by inconsistency rate (lower first), then by coverage (higher first): an aspect that never
decides is trivially "consistent" but useless, which the coverage column shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rewardkit.files import write_json_atomic


def preferences(first: Sequence[float], second: Sequence[float], tolerance: float = 0.0) -> np.ndarray:
    """+1 where first > second + tolerance, -1 where second > first + tolerance, else 0."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"preferences need equal shapes, got {a.shape} and {b.shape}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    return np.where(a > b + tolerance, 1, np.where(b > a + tolerance, -1, 0))


def inconsistency_rate(holistic: np.ndarray, aspect: np.ndarray) -> float:
    """Share of holistic-strict pairs where the aspect is strict too and disagrees (nan if none is strict)."""
    h, a = np.asarray(holistic), np.asarray(aspect)
    decided = h != 0
    if not decided.any():
        return math.nan
    return float(((a != 0) & (a != h) & decided).sum() / decided.sum())


def win_rate(prefs: np.ndarray) -> float:
    """(wins + 0.5 ties) / n of +1/0/-1 preferences (nan when empty)."""
    p = np.asarray(prefs)
    return float(((p > 0).sum() + 0.5 * (p == 0).sum()) / p.size) if p.size else math.nan


@dataclass
class AspectConsistency:
    name: str
    pairs: int
    holistic_strict: int
    both_strict: int
    disagreements: int
    inconsistency_rate: float
    coverage: float
    greedy_win_rate: float


def aspect_consistency(name: str, holistic_prefs: np.ndarray, aspect_prefs: np.ndarray) -> AspectConsistency:
    h, a = np.asarray(holistic_prefs), np.asarray(aspect_prefs)
    if h.shape != a.shape:
        raise ValueError(f"aspect {name}: {a.size} preferences but {h.size} holistic ones")
    strict = int((h != 0).sum())
    both = int(((h != 0) & (a != 0)).sum())
    return AspectConsistency(
        name=name,
        pairs=int(h.size),
        holistic_strict=strict,
        both_strict=both,
        disagreements=int(((h != 0) & (a != 0) & (a != h)).sum()),
        inconsistency_rate=inconsistency_rate(h, a),
        coverage=both / strict if strict else math.nan,
        greedy_win_rate=win_rate(a),
    )


def rank_aspects(results: Sequence[AspectConsistency]) -> list[AspectConsistency]:
    """Lower inconsistency first, then higher coverage; undefined rates (nan) last."""

    def key(r: AspectConsistency) -> tuple[float, float, str]:
        inc = r.inconsistency_rate if not math.isnan(r.inconsistency_rate) else math.inf
        cov = r.coverage if not math.isnan(r.coverage) else -1.0
        return inc, -cov, r.name

    return sorted(results, key=key)


def consistency_table(holistic_name: str, holistic: np.ndarray, ranked: Sequence[AspectConsistency]) -> str:
    """Markdown table of ranked aspects (with the holistic reward's own greedy win rate in the heading)."""
    lines = [
        f"holistic: {holistic_name}, greedy win rate {win_rate(holistic):.3f}, "
        f"strict pairs {int((np.asarray(holistic) != 0).sum())}/{np.asarray(holistic).size}",
        "",
        "| rank | aspect | inconsistency | coverage | disagreements | both strict | greedy win rate |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(ranked, 1):
        lines.append(
            f"| {i} | {r.name} | {_fmt(r.inconsistency_rate)} | {_fmt(r.coverage)} | {r.disagreements} | "
            f"{r.both_strict} | {_fmt(r.greedy_win_rate)} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def bar_chart(ranked: Sequence[AspectConsistency], path: str | Path, title: str = "aspect selection") -> Path:
    """Inconsistency rate and greedy win rate per aspect, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in ranked]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 3.6))
    inc = [0.0 if math.isnan(r.inconsistency_rate) else r.inconsistency_rate for r in ranked]
    ax.bar(x - 0.2, inc, width=0.4, label="inconsistency rate", color="#c44e52")
    ax.bar(x + 0.2, [r.greedy_win_rate for r in ranked], width=0.4, label="greedy win rate", color="#4c72b0")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_results(ranked: Sequence[AspectConsistency], path: str | Path, **extra: object) -> Path:
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(r).items()} for r in ranked]
    return write_json_atomic(path, {**extra, "aspects": rows}, default=str)
