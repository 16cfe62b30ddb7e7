"""Over-optimisation maths: the exact best-of-N estimator against brute force over all subsets, KL_bon against
Monte Carlo, Gao fits recovering known parameters, peak classification, bootstrap SEs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rewardkit.evaluation import overopt as oo


def brute_force_best_of_n(proxy_row, values_row, N):
    """Mean value of np.argmax's pick over every N-subset (subsets listed in index order: ties go to the
    earliest sample)."""
    picks = []
    for subset in itertools.combinations(range(len(proxy_row)), N):
        best = subset[int(np.argmax([proxy_row[i] for i in subset]))]
        picks.append(values_row[best])
    return float(np.mean(picks))


@pytest.mark.parametrize("n", [1, 2, 5, 7])
def test_best_of_n_equals_brute_force_over_all_subsets(n):
    rng = np.random.default_rng(n)
    proxy = rng.integers(0, 3, size=(6, n)).astype(float)  # few distinct values: many ties
    proxy[0] = rng.normal(size=n)  # and one row without ties
    gold = rng.normal(size=(6, n))
    ns = list(range(1, n + 1))
    exact = oo.best_of_n(proxy, gold, ns)
    for p in range(6):
        for k, N in enumerate(ns):
            assert exact[p, k] == pytest.approx(brute_force_best_of_n(proxy[p], gold[p], N), abs=1e-12)


def test_best_of_n_endpoints_and_ties():
    proxy = np.array([[1.0, 3.0, 3.0, 0.0]])
    gold = np.array([[10.0, 20.0, 30.0, 40.0]])
    out = oo.best_of_n(proxy, gold, [1, 4])
    assert out[0, 0] == pytest.approx(25.0)  # N = 1: the plain mean
    assert out[0, 1] == pytest.approx(20.0)  # N = n: the argmax, the earlier of the two tied maxima
    assert oo.best_of_n(proxy, proxy, [4])[0, 0] == pytest.approx(3.0)


def test_bon_weights_hand_computed_and_sum_to_one():
    # n = 4, N = 2: the i-th lowest (0-based i) is the max of C(i, 1) of the C(4, 2) = 6 pairs
    assert oo.bon_weights(4, 2) == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6])
    for n, N in [(16, 1), (16, 5), (16, 16), (200, 64)]:
        assert oo.bon_weights(n, N).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="1 <= N <= n"):
        oo.bon_weights(3, 4)


def test_kl_bon_matches_a_monte_carlo_estimate():
    """For a continuous proxy, best-of-N has density N F^(N-1) against the policy: KL = E[log N + (N-1) log U]
    with U the max of N uniforms."""
    rng = np.random.default_rng(0)
    for N in (2, 4, 16):
        u = rng.random((200_000, N)).max(axis=1)
        log_ratio = math.log(N) + (N - 1) * np.log(u)
        mc, se = log_ratio.mean(), log_ratio.std() / math.sqrt(len(u))
        assert abs(mc - oo.kl_bon(N)) < 4 * se


def test_kl_bon_is_exact_without_ties_and_an_upper_bound_with_them():
    def exact_kl(M, N):  # the policy uniform over M outcomes with distinct proxy ranks r = 1..M
        r = np.arange(1, M + 1)
        p_bon = (r / M) ** N - ((r - 1) / M) ** N
        keep = p_bon > 0
        return float((p_bon[keep] * np.log(p_bon[keep] * M)).sum())

    assert exact_kl(200_000, 8) == pytest.approx(float(oo.kl_bon(8)), abs=1e-4)
    assert exact_kl(3, 8) < float(oo.kl_bon(8))  # 3 outcomes: the formula overstates the KL
    assert oo.kl_bon(1) == 0.0
    assert oo.n_for_kl(float(oo.kl_bon(13.0))) == pytest.approx(13.0, rel=1e-9)


@pytest.mark.parametrize("form,alpha,beta", [("bon", 0.4, 0.15), ("rl", 0.3, 0.2), ("bon", 0.2, -0.05)])
def test_fit_recovers_known_alpha_and_beta(form, alpha, beta):
    d = np.sqrt(oo.kl_bon(np.array(oo.default_ns(256)))) if form == "bon" else np.linspace(0.2, 6, 12)
    gain = oo.gao_curve(d, alpha, beta, form)
    fit = oo.fit_gao(d, gain, form)
    assert fit.alpha == pytest.approx(alpha, abs=1e-10) and fit.beta == pytest.approx(beta, abs=1e-10)
    assert fit.r2 == pytest.approx(1.0)
    noisy = gain + np.random.default_rng(1).normal(scale=0.002, size=len(d))
    fit = oo.fit_gao(d, noisy, form)
    assert abs(fit.alpha - alpha) < 4 * fit.alpha_se + 1e-3 and abs(fit.beta - beta) < 4 * fit.beta_se + 1e-3


def test_peaks_within_beyond_and_without():
    d = np.sqrt(oo.kl_bon(np.array(oo.default_ns(64))))  # d_max ~ 1.81
    inside = oo.fit_gao(d, oo.gao_curve(d, 0.4, 0.2, "bon"), "bon")  # d* = 1.0
    assert inside.status == oo.PEAK
    assert inside.peak_d == pytest.approx(1.0) and inside.peak_gain == pytest.approx(0.4**2 / 0.8)
    beyond = oo.fit_gao(d, oo.gao_curve(d, 0.4, 0.05, "bon"), "bon")  # d* = 4: not extrapolated
    assert beyond.status == oo.RISING and beyond.peak_d is None and beyond.peak_gain is None
    assert oo.fit_gao(d, oo.gao_curve(d, -0.1, 0.1, "bon"), "bon").status == oo.FALLING
    rl_d = np.linspace(0.1, 3.0, 10)
    rl = oo.fit_gao(rl_d, oo.gao_curve(rl_d, 0.2, 0.2, "rl"), "rl")  # d* = exp(0) = 1, gain beta * d* = 0.2
    assert rl.status == oo.PEAK and rl.peak_d == pytest.approx(1.0) and rl.peak_gain == pytest.approx(0.2)
    assert oo.fit_gao(rl_d, oo.gao_curve(rl_d, 0.5, 0.1, "rl"), "rl").status == oo.RISING  # d* = e^4
    flat = oo.fit_gao(d, np.zeros(len(d)), "bon")
    assert flat.status == oo.FLAT and flat.peak_d is None
    assert math.isnan(oo.fit_gao(d[:3], [0.0, 0.1, 0.15], "bon").r2)  # two points: an exact fit, no R²
    with pytest.raises(ValueError, match="at least 2 points"):
        oo.fit_gao([0.0, 1.0], [0.0, 0.3], "bon")


def test_default_ns():
    assert oo.default_ns(16) == [1, 2, 4, 8, 16]
    assert oo.default_ns(24) == [1, 2, 4, 8, 16, 24]
    assert oo.default_ns(1) == [1]


def test_bootstrap_se_matches_the_analytic_standard_error():
    x = np.random.default_rng(3).normal(size=400)
    idx = oo.bootstrap_indices(len(x), 2000, seed=0)
    se = oo.bootstrap_se(x[:, None], idx)[0]
    assert se == pytest.approx(x.std(ddof=1) / math.sqrt(len(x)), rel=0.1)
    same = oo.paired_difference(x, x, idx)
    assert same["difference"] == 0.0 and same["se"] == 0.0


def test_bon_curve_on_a_proxy_that_hacks_gold(monkeypatch):
    """The proxy = gold + a bonus for a trait gold dislikes at its extreme: gold rises, then falls."""
    rng = np.random.default_rng(0)
    P, n = 300, 64
    quality = rng.normal(size=(P, n))
    hack = rng.exponential(size=(P, n))
    gold = quality - 0.5 * np.maximum(hack - 1.5, 0) ** 2
    proxy = quality + hack
    ns = oo.default_ns(n)
    curve = oo.bon_curve(proxy, gold, ns, oo.bootstrap_indices(P, 200))
    assert curve["gold_gain"][0] == 0.0 and curve["proxy_gain"] == sorted(curve["proxy_gain"])
    assert all(se is not None and se > 0 for se in curve["gold_se"])
    fit = curve["fits"]["gold"]
    assert fit["status"] == oo.PEAK and 0 < fit["peak_d"] < curve["d"][-1] and fit["peak_share"] > 0.5
    assert fit["peak_d_se"] > 0 and fit["peak_n"] > 1
    assert int(np.argmax(curve["gold"])) < len(ns) - 1  # the measured curve turns down too
    monkeypatch.setattr(oo, "MIN_PEAK_SHARE", 1.01)  # no peak is reproduced by every replicate and more
    assert oo.bon_curve(proxy, gold, ns, oo.bootstrap_indices(P, 200))["fits"]["gold"]["status"] == oo.UNCERTAIN
    honest = oo.bon_curve(quality, quality, ns, oo.bootstrap_indices(P, 50))
    assert honest["fits"]["gold"]["status"] == oo.RISING  # gold = proxy: it never turns down


def test_verdict():
    assert oo.verdict(0.3, 0.1) == "supported"
    assert oo.verdict(-0.3, 0.1) == "contradicted"
    assert oo.verdict(0.1, 0.1).startswith("inconclusive")
