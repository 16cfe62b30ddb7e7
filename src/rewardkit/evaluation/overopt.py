"""Over-optimisation maths (numpy only): exact best-of-N expectations, KL of best-of-N, bootstrap standard
errors over prompts, and the functional forms of Gao et al. 2022 (arXiv 2210.10760).

Best-of-N without resampling noise. Draw n samples per prompt once; a best-of-N pick is the proxy's argmax
over N of them. Over all C(n, N) subsets of the n samples, the sample ranked i-th lowest by the proxy
(i = 1..n) is the pick of exactly C(i-1, N-1) subsets, so

    E[value of the best-of-N pick] = sum_i C(i-1, N-1) / C(n, N) * value_(i)            (`best_of_n`)

is the mean over *every* N-subset, not one random draw. Proxy ties are broken deterministically: among equal
proxy values the earlier sample wins, exactly as `np.argmax` (and `rewardkit bon`) pick. Samples are i.i.d.,
so this equals a uniformly random tie-break in expectation over the sampling.

KL of best-of-N to the policy (Stiennon et al. 2020; Gao et al. 2022): KL_bon(N) = log N - (N - 1) / N,
d = sqrt(KL_bon). It is exact for a proxy with no ties (a continuous score) and an upper bound otherwise
(Beirami et al. 2024).

Gao's forms, for the gain R(d) = score(d) - score(0) of the gold (or proxy) score:

    best-of-N   R(d) = d (alpha - beta d)          peak d* = alpha / (2 beta),        R(d*) = alpha^2 / (4 beta)
    RL          R(d) = d (alpha - beta log d)      peak d* = exp(alpha / beta - 1),   R(d*) = beta d*

Both are linear in (alpha, beta), so `fit_gao` solves least squares through the origin exactly. A fit whose
peak lies beyond the largest measured d is reported as `rising` (no turn-down within the range), never
extrapolated; one that only falls is `falling`; gains that are all zero are `flat`. A best-of-N peak that fewer
than half of the bootstrap replicates (over prompts) reproduce within the range is `uncertain`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

FORMS = ("bon", "rl")
PEAK, UNCERTAIN, RISING, FALLING, FLAT = "peak", "uncertain", "rising", "falling", "flat"
MIN_PEAK_SHARE = 0.5  # a best-of-N peak counts when at least this share of bootstrap replicates peak in range


# ---- best-of-N --------------------------------------------------------------------------------------------


def bon_weights(n: int, N: int) -> np.ndarray:
    """w[i] = C(i, N-1) / C(n, N) for 0-based ascending rank i: the probability that the sample with i others
    below it is the maximum of a uniformly random N-subset of the n samples (sums to 1)."""
    if not 1 <= N <= n:
        raise ValueError(f"best-of-N needs 1 <= N <= n, got N={N}, n={n}")
    total = math.comb(n, N)
    return np.array([math.comb(i, N - 1) / total for i in range(n)])


def proxy_order(proxy: np.ndarray) -> np.ndarray:
    """Per row, sample indices by ascending proxy; among equal proxies the earlier sample ranks higher (it is
    the one np.argmax picks)."""
    p = np.asarray(proxy, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"proxy must be (prompts, n), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("proxy scores must be finite")
    later_first = -np.arange(p.shape[1])
    return np.stack([np.lexsort((later_first, row)) for row in p]) if len(p) else p.astype(int)


def best_of_n(proxy: np.ndarray, values: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """(prompts, len(ns)): per prompt, the expected `values` of the proxy's best-of-N pick over all N-subsets
    of the row's n samples (see the module docstring)."""
    v = np.asarray(values, dtype=float)
    order = proxy_order(proxy)
    if v.shape != order.shape:
        raise ValueError(f"values {v.shape} and proxy {order.shape} differ in shape")
    n = v.shape[1]
    weights = np.stack([bon_weights(n, N) for N in ns])  # (K, n)
    return np.take_along_axis(v, order, axis=1) @ weights.T


def kl_bon(N: int | np.ndarray) -> np.ndarray:
    """log N - (N - 1) / N."""
    N = np.asarray(N, dtype=float)
    if np.any(N < 1):
        raise ValueError("N must be >= 1")
    return np.log(N) - (N - 1) / N


def n_for_kl(kl: float) -> float:
    """The (real) N >= 1 with kl_bon(N) = kl (bisection; kl_bon increases with N)."""
    if kl <= 0:
        return 1.0
    low, high = 1.0, 2.0
    while kl_bon(high) < kl:
        low, high = high, high * 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if kl_bon(mid) < kl else (low, mid)
    return (low + high) / 2


def default_ns(n_max: int) -> list[int]:
    """1, 2, 4, ... up to n_max (n_max included)."""
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    ns = [1 << k for k in range(n_max.bit_length()) if 1 << k <= n_max]
    return ns if ns[-1] == n_max else ns + [n_max]


# ---- bootstrap over prompts --------------------------------------------------------------------------------


def bootstrap_indices(prompts: int, replicates: int, seed: int = 0) -> np.ndarray:
    """(replicates, prompts) prompt indices drawn with replacement."""
    if prompts < 1 or replicates < 1:
        raise ValueError("bootstrap needs >= 1 prompt and >= 1 replicate")
    return np.random.default_rng(seed).integers(0, prompts, size=(replicates, prompts))


def bootstrap_means(per_prompt: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(replicates, ...) means of the resampled rows of `per_prompt` (prompts, ...)."""
    return np.asarray(per_prompt, dtype=float)[indices].mean(axis=1)


def bootstrap_se(per_prompt: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Standard error of the mean over prompts (per column), from the bootstrap replicates."""
    if len(indices) < 2:
        return np.full(np.shape(per_prompt)[1:], math.nan)
    return bootstrap_means(per_prompt, indices).std(axis=0, ddof=1)


# ---- Gao et al. functional forms ---------------------------------------------------------------------------


def gao_basis(d: np.ndarray, form: str) -> np.ndarray:
    """(len(d), 2) columns multiplying (alpha, beta): [d, -d^2] (bon) or [d, -d log d] (rl, 0 log 0 = 0)."""
    d = np.asarray(d, dtype=float)
    if form == "bon":
        return np.stack([d, -d * d], axis=1)
    if form == "rl":
        with np.errstate(divide="ignore", invalid="ignore"):
            dlogd = np.where(d > 0, d * np.log(np.where(d > 0, d, 1.0)), 0.0)
        return np.stack([d, -dlogd], axis=1)
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def gao_curve(d: np.ndarray, alpha: float, beta: float, form: str) -> np.ndarray:
    return gao_basis(d, form) @ np.array([alpha, beta])


@dataclass
class GaoFit:
    """Least-squares fit of one Gao form to gains R at distances d (> 0), and where its peak is."""

    form: str
    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    r2: float  # 1 - SS_res / SS_tot (around the mean gain); NaN with two points (an exact fit)
    rmse: float
    points: int
    d_max: float  # the largest measured d: the fit says nothing beyond it
    status: str  # peak | rising (no turn-down within d_max) | falling (never above its start) | flat (no change)
    peak_d: float | None  # only for status "peak"
    peak_gain: float | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def gao_peak(alpha: float, beta: float, form: str) -> float | None:
    """The stationary point d* > 0 that is a maximum, if the curve has one (beta > 0); else None."""
    if beta <= 0:
        return None
    d = alpha / (2 * beta) if form == "bon" else math.exp(min(alpha / beta - 1, 700.0))
    return d if d > 0 else None


def classify_peak(alpha: float, beta: float, form: str, d_max: float) -> tuple[str, float | None, float | None]:
    """(status, peak d, gain at the peak) over (0, d_max]; a peak beyond d_max is `rising`, not a peak."""
    peak = gao_peak(alpha, beta, form)
    if peak is not None and peak <= d_max:
        return PEAK, peak, float(gao_curve(np.array([peak]), alpha, beta, form)[0])
    if peak is not None and peak > d_max:
        return RISING, None, None
    if form == "bon" and beta > 0:  # d* <= 0: the parabola only falls on d > 0
        return FALLING, None, None
    end = float(gao_curve(np.array([d_max]), alpha, beta, form)[0])
    return (RISING if end > 0 else FALLING), None, None


def fit_gao(d: Sequence[float], gain: Sequence[float], form: str) -> GaoFit:
    """Fit R(d) of `form` through the origin to the points with d > 0 (least squares; SEs from the residual
    variance, NaN with only two points)."""
    d = np.asarray(d, dtype=float)
    r = np.asarray(gain, dtype=float)
    keep = d > 0
    d, r = d[keep], r[keep]
    if len(d) < 2:
        raise ValueError(f"a {form} fit needs at least 2 points with d > 0, got {len(d)}")
    if not np.all(np.isfinite(r)):
        raise ValueError("gains must be finite")
    X = gao_basis(d, form)
    (alpha, beta), *_ = np.linalg.lstsq(X, r, rcond=None)
    resid = r - X @ np.array([alpha, beta])
    ss_res = float(resid @ resid)
    ss_tot = float(((r - r.mean()) ** 2).sum())
    dof = len(d) - 2
    if dof > 0:
        cov = ss_res / dof * np.linalg.pinv(X.T @ X)
        alpha_se, beta_se = (math.sqrt(max(v, 0.0)) for v in np.diag(cov))
    else:
        alpha_se = beta_se = math.nan
    d_max = float(d.max())
    if not np.any(r):
        status, peak_d, peak_gain = FLAT, None, None
    else:
        status, peak_d, peak_gain = classify_peak(float(alpha), float(beta), form, d_max)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 and dof > 0 else math.nan
    return GaoFit(
        form,
        float(alpha),
        float(beta),
        alpha_se,
        beta_se,
        r2,
        math.sqrt(ss_res / len(d)),
        len(d),
        d_max,
        status,
        peak_d,
        peak_gain,
    )


# ---- one reward's best-of-N curve ----------------------------------------------------------------------------


def bon_curve(proxy: np.ndarray, gold: np.ndarray, ns: Sequence[int], indices: np.ndarray) -> dict[str, Any]:
    """Exact best-of-N proxy and gold means for N in `ns` over the prompts (rows), their gains over N = 1 with
    bootstrap SEs (`indices`: `bootstrap_indices` rows), Gao best-of-N fits of the gold and proxy gains, and the
    bootstrap spread of the gold peak. The proxy gain is also given in units of the proxy's within-prompt
    standard deviation (`proxy_gain_sd`), comparable across rewards."""
    proxy = np.asarray(proxy, dtype=float)
    ns = list(ns)
    if ns[0] != 1:
        raise ValueError("ns must start at N = 1 (the gains are measured from it)")
    gold_n = best_of_n(proxy, gold, ns)
    proxy_n = best_of_n(proxy, proxy, ns)
    gold_gain, proxy_gain = gold_n - gold_n[:, :1], proxy_n - proxy_n[:, :1]
    spread = float(np.sqrt(proxy.var(axis=1).mean())) or 1.0
    d = np.sqrt(kl_bon(np.array(ns)))
    curve: dict[str, Any] = {
        "n": ns,
        "kl": kl_bon(np.array(ns)).tolist(),
        "d": d.tolist(),
        "prompts": int(len(proxy)),
        "samples_per_prompt": int(proxy.shape[1]),
        "proxy_within_prompt_sd": spread,
    }
    for name, table in (("gold", gold_n), ("proxy", proxy_n), ("gold_gain", gold_gain), ("proxy_gain", proxy_gain)):
        curve[name] = table.mean(axis=0).tolist()
        curve[f"{name}_se"] = _finite(bootstrap_se(table, indices))
    curve["proxy_gain_sd"] = (np.asarray(curve["proxy_gain"]) / spread).tolist()
    curve["fits"] = {}
    if len(ns) >= 3:
        gold_fit = fit_gao(d, curve["gold_gain"], "bon")
        fit = curve["fits"]["gold"] = {**gold_fit.as_dict(), **peak_spread(gold_gain, d, indices, "bon")}
        if gold_fit.status == PEAK:
            fit["peak_n"] = n_for_kl(gold_fit.peak_d**2)
            if fit["peak_share"] < MIN_PEAK_SHARE:
                fit["status"] = UNCERTAIN
        curve["fits"]["proxy"] = fit_gao(d, curve["proxy_gain"], "bon").as_dict()
    return curve


def peak_spread(gains: np.ndarray, d: np.ndarray, indices: np.ndarray, form: str) -> dict[str, Any]:
    """Bootstrap over prompts of a fitted peak: the share of replicates whose fit peaks within the measured
    range, and the standard errors of the peak's d and gain over those replicates."""
    means = bootstrap_means(gains, indices)
    peaks = []
    for row in means:
        fit = fit_gao(d, row, form)
        if fit.status == PEAK:
            peaks.append((fit.peak_d, fit.peak_gain))
    out: dict[str, Any] = {"peak_share": len(peaks) / len(means), "peak_d_se": None, "peak_gain_se": None}
    if len(peaks) > 1:
        arr = np.array(peaks)
        out["peak_d_se"], out["peak_gain_se"] = (float(x) for x in arr.std(axis=0, ddof=1))
    return out


def paired_difference(a: np.ndarray, b: np.ndarray, indices: np.ndarray) -> dict[str, float]:
    """mean(a - b) over prompts and its bootstrap SE: two rewards judged on the same samples are paired."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return {"difference": float(diff.mean()), "se": float(bootstrap_se(diff[:, None], indices)[0])}


def verdict(difference: float, se: float, k: float = 2.0) -> str:
    """supported (difference > k SE), contradicted (< -k SE) or inconclusive."""
    if not math.isfinite(se):
        return "inconclusive (no SE)"
    if difference > k * se:
        return "supported"
    if difference < -k * se:
        return "contradicted"
    return f"inconclusive (within {k:g} SE)"


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]
