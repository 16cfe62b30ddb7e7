"""Win rates of paired comparisons over prompts (and repeats: sampling seeds, RL seeds), with bootstrap SEs.

`prefs` is a (prompts, repeats) array of +1 (the first system wins), 0 (tie) or -1 (the second wins):

    win_rate          (W + T/2) / n          ties count half
    decided_win_rate  W / (W + L)            ties excluded (ALaRM's win rate); nan when every comparison ties

Standard errors come from bootstrap replicates over prompts: a resampled prompt brings all its repeats, so
repeats of one prompt (correlated: same prompt, same reward) are not counted as independent. Replicates in which
every comparison ties have no decided win rate and are left out of its SE.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardkit.evaluation.overopt import bootstrap_indices


def _as_matrix(prefs: Any) -> np.ndarray:
    p = np.asarray(prefs)
    if p.ndim == 1:
        p = p[:, None]
    if p.ndim != 2 or p.size == 0:
        raise ValueError(f"preferences must be a non-empty (prompts, repeats) array, got shape {p.shape}")
    if not np.isin(p, (-1, 0, 1)).all():
        raise ValueError("preferences must be +1, 0 or -1")
    return p


def win_stats(prefs: Any, replicates: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Counts, both win rates and their bootstrap SEs (module docstring)."""
    p = _as_matrix(prefs)
    wins, ties, losses = ((p > 0).sum(1), (p == 0).sum(1), (p < 0).sum(1))  # per prompt
    W, T, L = int(wins.sum()), int(ties.sum()), int(losses.sum())
    n = W + T + L
    out: dict[str, Any] = {
        "wins": W,
        "ties": T,
        "losses": L,
        "n": n,
        "prompts": int(p.shape[0]),
        "repeats": int(p.shape[1]),
        "win_rate": (W + 0.5 * T) / n,
        "decided_win_rate": W / (W + L) if W + L else math.nan,
        "win_rate_se": math.nan,
        "decided_win_rate_se": math.nan,
    }
    if p.shape[0] < 2 or replicates < 2:
        return out
    idx = bootstrap_indices(p.shape[0], replicates, seed)
    w, t, lost = wins[idx].sum(1), ties[idx].sum(1), losses[idx].sum(1)
    out["win_rate_se"] = float(((w + 0.5 * t) / n).std(ddof=1))
    decided = w + lost
    rates = w[decided > 0] / decided[decided > 0]
    if len(rates) >= 2:
        out["decided_win_rate_se"] = float(rates.std(ddof=1))
    return out


def format_win(stats: dict[str, Any], decided: bool = True) -> str:
    """'0.571 ± 0.032 (12/30/9)': the decided (or tie-half) win rate, its SE and W/T/L."""
    key = "decided_win_rate" if decided else "win_rate"
    value, se = stats[key], stats[f"{key}_se"]
    text = "n/a" if not math.isfinite(value) else f"{value:.3f}"
    if math.isfinite(value) and math.isfinite(se):
        text += f" ± {se:.3f}"
    return f"{text} ({stats['wins']}/{stats['ties']}/{stats['losses']})"
