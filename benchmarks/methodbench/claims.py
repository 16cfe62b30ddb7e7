"""The papers' claims as hypotheses, each tested on the committed evidence records (no training).

Each hypothesis compares two arms on the same test pairs with matched seeds: per seed s the statistic of arm A
minus that of arm B, d_s; the claim's difference is the mean of d_s over the seeds both arms have. Its
standard error combines the eval-pair sampling (a paired bootstrap: the same resampled pairs for both arms and
every seed) and the seed-to-seed spread of d_s (variance / seeds); the minimum detectable effect at 80% power
(two-sided 5%) is 2.8 SE. Verdicts:

  confirmed     the difference lies in the claimed direction and beyond 1.96 SE
  contradicted  it lies in the opposite direction beyond 1.96 SE
  undetectable  within 1.96 SE: an effect smaller than the MDE cannot be seen at this power

"Kept" claims (no loss of accuracy) are non-inferiority tests with a margin of `KEPT_MARGIN`: confirmed when
diff - 1.96 SE > -margin, contradicted when diff + 1.96 SE < -margin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .evidence import EVIDENCE_RECORDS, SCENARIOS, TIGHT_POLICY, TIGHT_REWARD
from .presets import ENCODING, encoding_of

Z = 1.96
POWER_FACTOR = 2.8  # (z_0.975 + z_0.8) = 1.96 + 0.84
KEPT_MARGIN = 0.02
BOOTSTRAP = 1000
HAF = "HaF-RM (Liu et al., arXiv 2407.04185)"
PCRM = "PCRM (Zhou et al., arXiv 2404.00978)"
GRM = "GRM (Yang et al., arXiv 2406.10216)"
# Where each paper's words and numbers come from. HaF-RM's tables: the authors' project page haf-rm.github.io
# (repository github.com/haf-rm/haf-rm.github.io) shows them as images of the paper's tables: static/images/
# overall.png (Table 2, captioned in the 2024-07 page; the 2025 page adds the Mistral-base rows) and static/images/
# OOD.png (Table 3 with its caption; the 2024-07 page has the v1 layout, training set x test set).
HAF_ABSTRACT = "abstract, arXiv 2407.04185v4 / ACL 2025"
HAF_PAGE = "the authors' project page haf-rm.github.io, section 'Intrinsic: OOD Data'"
HAF_T2 = "Table 2 (image on haf-rm.github.io, static/images/overall.png)"
HAF_T3 = "Table 3 (image with caption on haf-rm.github.io, static/images/OOD.png, 2025 page)"
HAF_T3_V1 = (
    "Table 3 of the 2024-07 (v1) page (haf-rm.github.io commit 49ecb2d, static/images/OOD.png; row = training set)"
)
GRM_ABSTRACT = "abstract, arXiv 2406.10216 / NeurIPS 2024"
PCRM_ABSTRACT = "abstract, arXiv 2404.00978 / CCL 2024"
GRM_TABLES = (
    "GRM's Table 1 (400K pairs) and Table 2 (40K) as reproduced by others, not read in the paper (its tables are "
    "past what the stored copies of arxiv.org/html/2406.10216 show): Table 1 of BNRM (Duan et al., arXiv "
    "2602.10623v2, rows BT and GRM-*, 'following Yang et al. (2024b)') and a GitHub survey of over-optimisation "
    "papers ('Table 1: 400K; Table 2: 40K'), which agree; Gemma-2B-it with LoRA, Unified-Feedback (ID) / "
    "HHH-Alignment / MT-Bench (OOD)"
)
PCRM_NO_NUMBER = (
    "not found: PCRM's result tables are not in the text reachable here: the stored copies of "
    "arxiv.org/html/2404.00978v1, aclanthology.org 2024.ccl-1.107 and Springer (LNAI 14761) hold "
    "the abstract and front matter only, and the authors' code (github.com/wangclnlp/"
    "DeepSpeed-Chat-Extension, branch PCRM) has training scripts but no results"
)
UNVERIFIED = " [as reproduced by {}; not verified against the paper's text]"
PCRM_ABLATION_SCRIPTS = (
    "the authors' ablation scripts: training/step2_reward_model_finetuning/training_scripts/"
    "llama2/run_llama2_7b_{alpaca,tldr}_PCRM_{fixed,random}.sh, branch PCRM of "
    "github.com/wangclnlp/DeepSpeed-Chat-Extension"
)


@dataclass(frozen=True)
class Hypothesis:
    id: str
    paper: str
    quote: str  # the paper's words, with where they stand; or what the claim rests on
    number: str  # the paper's number(s) for it, with table and source; or why there is none
    scenarios: tuple[str, ...]  # pooled: the test pairs of every scenario, concatenated
    test_set: str
    a: str
    b: str
    statistic: str = "accuracy"  # accuracy | spread | spearman | share
    direction: int = 1  # +1: A above B is claimed; -1: A below B; 0: A not below B by more than KEPT_MARGIN
    checkpoint: str = "final"  # final | best (best validation)
    note: str = ""
    source: str = ""  # where the quote stands (section, page, file), when it is the paper's or its authors' words
    extra: dict[str, Any] = field(default_factory=dict)


SUITE = ("suite-a", "suite-b")  # the reward-head arms (bt, haf, grm) run on both rotations
SUITE_A = ("suite-a",)  # DPO and the init control on the first
HH = ("hh-helpful", "hh-harmless")
HAF_DPO_OOD = (
    "DPO model converge to approximately 50% in a highly exaggerated manner, indicating a complete loss "
    "of modeling capability for OOD data. [...] DPO is sensitive to the distribution shift."
)
HAF_DPO_OOD_SOURCE = HAF_PAGE + " and its Takeaway 2"
HYPOTHESES: tuple[Hypothesis, ...] = (
    Hypothesis(
        "haf-bt-id",
        HAF,
        "Experiment results on five datasets sufficiently show the validity and "
        "effectiveness of our proposed hybrid framework for training a high-quality reward model.",
        HAF_T2 + ", mean accuracy over its 5 datasets, HaF vs Baseline: 74.12 vs 69.50 (Phi-2), 71.82 vs 67.06 "
        "(Mistral-base), 76.52 vs 73.16 (Mistral-Instruct)",
        SUITE,
        "id",
        "haf",
        "bt",
        note="suite, held-out pairs of the trained families, gold labels",
        source=HAF_ABSTRACT,
    ),
    Hypothesis(
        "haf-bt-ood",
        HAF,
        "HaF possesses a strong ability to learn preferences and effectively generalize "
        "them to similar preference distributions, despite great differences in language style and topi[c]",
        HAF_T3 + ", mean accuracy, HaF minus Baseline: internal (the other datasets of the training subject) "
        "+1.57 (Phi-2, HaF 68.71), +0.86 (Mistral-base, 64.66), +2.26 (Mistral, 70.30); external "
        "(RewardBench) +8.35 (80.60), +6.79 (77.70), +7.80 (81.95)",
        SUITE,
        "ood",
        "haf",
        "bt",
        note="suite, unseen families, length-balanced, gold labels",
        source=HAF_PAGE + '; Table 3 is captioned "Results for out-of-distribution data"',
    ),
    Hypothesis(
        "haf-bt-hh",
        HAF,
        "(our extension of haf-bt-ood to HH helpful <-> harmless; the paper's own cells for "
        "this transfer show no consistent HaF gain, see its number)",
        HAF_T3_V1 + ", HaF accuracy (HaF minus Baseline): Helpful->Harmless 38.50 (-6.90) Phi-2, 37.50 (0.00) "
        "Mistral-Instruct; Harmless->Helpful 32.60 (+0.80) Phi-2, 32.40 (+0.50) Mistral-Instruct; all below "
        "50%: the two subsets' preferences conflict",
        HH,
        "ood",
        "haf",
        "bt",
        note="HH single-turn, the other subset, length-balanced; an extension, not the paper's claim",
    ),
    Hypothesis(
        "haf-bt-tldr",
        HAF,
        "(our extension of haf-bt-ood to TL;DR: trained on batch13, tested on batch18)",
        "none: the paper has no TL;DR experiment (its datasets: Helpful, Harmless, CA, BS, AHP; Tables 2-3)",
        ("tldr",),
        "batch18",
        "haf",
        "bt",
        note="an extension, not the paper's claim",
    ),
    Hypothesis(
        "haf-dpo-ood",
        HAF,
        HAF_DPO_OOD,
        HAF_T3 + ", mean accuracy, HaF minus DPO: internal +13.66 (Phi-2), +8.50 (Mistral-base), +9.07 "
        "(Mistral); external (RewardBench) +33.36, +35.69, +28.47",
        SUITE_A,
        "ood",
        "haf",
        "dpo",
        source=HAF_DPO_OOD_SOURCE,
    ),
    Hypothesis(
        "dpo-bt-ood",
        HAF,
        HAF_DPO_OOD,
        HAF_T3 + ", mean accuracy derived as HaF minus each difference, DPO vs Baseline: internal 55.05 vs "
        "67.14 (Phi-2), 56.16 vs 63.80 (Mistral-base), 61.23 vs 68.04 (Mistral); external (RewardBench) "
        "47.24 vs 72.25, 42.01 vs 70.91, 53.48 vs 74.15",
        SUITE_A,
        "ood",
        "dpo",
        "bt",
        direction=-1,
        note="direction fixed: the paper puts DPO below its baseline out of distribution (Table 3's caption: "
        "superscripts are HaF's difference to the baseline, subscripts to DPO; a third-party summary, "
        "en.papernotes.org, swaps them, which reads as DPO above the baseline)",
        source=HAF_DPO_OOD_SOURCE,
    ),
    Hypothesis(
        "grm-bt-ood",
        GRM,
        "Our experimental results demonstrate that the introduced regularization technique "
        "markedly improves the accuracy of learned reward models across a variety of out-of-distribution (OOD) "
        "tasks",
        "baseline vs GRM-SFT, HHH / MT-Bench (OOD): 73.4 / 71.2 vs 79.8 / 73.4 at 400K, 70.3 / 69.1 vs 78.7 / 73.0 "
        "at 40K (ID: 72.1 vs 73.2, 68.8 vs 71.5); " + GRM_TABLES,
        SUITE,
        "ood",
        "grm",
        "bt",
        source=GRM_ABSTRACT,
    ),
    Hypothesis(
        "grm-haf-ood",
        GRM,
        "Our study validates the effectiveness of DPO, DPO without reference, and SFT "
        "regularization for GRM, identifying SFT regularization as the most effective and stable"
        + UNVERIFIED.format("liner.com's review page, as the paper's list of contributions"),
        "HHH / MT-Bench (OOD) by regulariser, SFT vs DPO without reference vs DPO: 78.7 / 73.0 vs 76.6 / 72.1 "
        "vs 71.6 / 71.3 at 40K; 79.8 / 73.4 vs 79.7 / 73.0 vs 79.2 / 73.4 at 400K (SFT lowest in ID there: 73.2 "
        "vs 73.9 vs 73.8); " + GRM_TABLES,
        SUITE,
        "ood",
        "grm",
        "haf",
        note="GRM = SFT regulariser (alpha 0.01); HaF = DPO regulariser "
        "(alpha 0.2): the paper's ranking of the regularisers, at each paper's default weight",
    ),
    Hypothesis(
        "init-control",
        "control (the method issue)",
        "HaF's zero head init, not its DPO term, might "
        "explain its smaller margins: a BT arm with the normal init next to the zero-init BT",
        "-",
        SUITE_A,
        "ood",
        "bt",
        "bt-normal",
        direction=0,
        note="non-inferiority of zero vs normal init",
    ),
    Hypothesis(
        "init-spread",
        "control (the method issue)",
        "A zero head under Adam grows to a norm of about "
        "0.1-0.3 over 80-230 steps, so HaF's smaller margins and lower ECE may be the init, not the DPO term",
        "-",
        SUITE_A,
        "ood",
        "bt",
        "bt-normal",
        statistic="spread",
        direction=-1,
        note="margin std ratio - 1 of zero-init BT to normal-init BT",
    ),
    Hypothesis(
        "haf-spread",
        "control (the method issue)",
        "(as init-spread) what the DPO term adds at the same zero init: HaF's margins against zero-init BT's",
        "-",
        SUITE,
        "ood",
        "haf",
        "bt",
        statistic="spread",
        direction=-1,
        note="margin std ratio - 1, both zero-init",
    ),
    Hypothesis(
        "pcrm-spread",
        PCRM,
        "PCRM incorporates prior constraints ... during reward model training to "
        "regulate optimization magnitude and control score margins",
        PCRM_NO_NUMBER,
        ("pcrm",),
        "batch18",
        "pcrm-length",
        "bt-tracked",
        statistic="spread",
        direction=-1,
        note="margin std ratio - 1, final checkpoint of 10 epochs",
        source=PCRM_ABSTRACT,
    ),
    Hypothesis(
        "pcrm-accuracy-kept",
        PCRM,
        "Experimental results demonstrate that PCRM significantly improves "
        "alignment performance by effectively constraining reward score scaling",
        PCRM_NO_NUMBER,
        ("pcrm",),
        "batch18",
        "pcrm-length",
        "bt-tracked",
        direction=0,
        checkpoint="best",
        note="best-validation checkpoints; our reading: its ranking accuracy should not suffer",
        source=PCRM_ABSTRACT,
    ),
    Hypothesis(
        "pcrm-rank",
        PCRM,
        "We comprehensively evaluate PCRM by examining its rank correlation with human "
        "preferences and its effectiveness in aligning LLMs via RL",
        PCRM_NO_NUMBER,
        ("pcrm",),
        "batch18",
        "pcrm-length",
        "bt-tracked",
        statistic="spearman",
        note="Spearman of the margin with the labellers' confidence (1-9), final checkpoint",
        source=PCRM_ABSTRACT,
    ),
    Hypothesis(
        "pcrm-long",
        PCRM,
        "the training procedure suffers from an inherent problem: the uncontrolled scaling "
        "of reward scores during reinforcement learning due to the lack of constraints while training the "
        "reward model",
        PCRM_NO_NUMBER,
        ("pcrm",),
        "batch18",
        "pcrm-length",
        "bt-tracked",
        note="accuracy after 10 epochs (final checkpoint), where BT over-fits",
        source=PCRM_ABSTRACT,
    ),
    Hypothesis(
        "pcrm-prior-vs-fixed",
        PCRM,
        "PCRM incorporates prior constraints, specifically, length ratio and "
        "cosine similarity between outputs of each comparison pair",
        PCRM_NO_NUMBER,
        ("pcrm",),
        "batch18",
        "pcrm-length",
        "pcrm-fixed",
        statistic="spearman",
        note="same mean delta*",
        source=PCRM_ABSTRACT + "; a fixed bound is ablated in " + PCRM_ABLATION_SCRIPTS,
    ),
    Hypothesis(
        "pcrm-prior-vs-random",
        PCRM,
        "(as pcrm-prior-vs-fixed, with the random bound of the same ablation scripts)",
        PCRM_NO_NUMBER,
        ("pcrm",),
        "batch18",
        "pcrm-length",
        "pcrm-random",
        statistic="spearman",
        note="same mean delta*",
        source=PCRM_ABLATION_SCRIPTS,
    ),
    Hypothesis(
        "pcrm-dpo",
        PCRM,
        "As another bonus, our method is easily integrated into arbitrary rank-based "
        "alignment methods, such as direct preference optimization, and can yield consistent improvement",
        PCRM_NO_NUMBER,
        ("tldr",),
        "batch18",
        "pcrm-dpo",
        "dpo-tracked",
        note="implicit-reward accuracy, final checkpoint",
        source=PCRM_ABSTRACT,
    ),
)

# ---- reading the records ------------------------------------------------------------------------------------


class EncodingMismatch(ValueError):
    """A records directory holds a record or manifest of another encoding than the one it is read for."""


def load_records(
    records_dir: Path = EVIDENCE_RECORDS, encoding: str = ENCODING
) -> tuple[dict[str, Any], dict[tuple[str, str, int], Any]]:
    """(manifests by scenario, records by (scenario, arm, seed)) of every committed evidence record. Every file
    must have `encoding` (where the reward was read; no field: the encoding before the field existed): records of
    two encodings are never pooled, a stray one stops the reading (EncodingMismatch names it)."""
    manifests, records = {}, {}

    def read(file: Path) -> dict[str, Any]:
        content = json.loads(file.read_text())
        if encoding_of(content) != encoding:
            raise EncodingMismatch(
                f"{file.parent.name}/{file.name} was produced with encoding "
                f"{encoding_of(content)}, not {encoding}: records of two encodings are never "
                f"pooled (move it to the records directory of its encoding)"
            )
        return content

    for directory in sorted(p for p in records_dir.glob("*") if p.is_dir()):
        manifest = directory / "test_sets.json"
        if manifest.exists():
            manifests[directory.name] = read(manifest)
        for file in sorted(directory.glob("*-s*.json")):
            record = read(file)
            records[record["scenario"], record["arm"], record["seed"]] = record
    return manifests, records


def _margins(record: dict[str, Any], test_set: str, checkpoint: str) -> list[float | None] | None:
    ckpt = record["margins"].get(checkpoint)
    return None if ckpt is None else ckpt.get(test_set)


def gather(
    h: Hypothesis, manifests: dict[str, Any], records: dict[tuple[str, str, int], Any]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[int]] | list[str]:
    """(A margins [seeds x pairs], B margins, per-pair info arrays, seeds), pooled over the scenarios; or the
    runs still missing."""
    missing = []
    seeds = None
    for sc in h.scenarios:
        for arm in (h.a, h.b):
            have = {s for (scn, a, s) in records if scn == sc and a == arm}
            expected = set(SCENARIOS[sc].seeds)
            missing += [f"{sc}/{arm}/s{s}" for s in sorted(expected - have)]
            seeds = have if seeds is None else seeds & have
        if sc not in manifests:
            missing.append(f"{sc}/test_sets.json")
    if missing or not seeds:
        return missing or ["no seed in common"]
    seeds_l = sorted(seeds)
    rows_a, rows_b, info = [], [], {"strength": [], "similarity": [], "chosen_longer": []}
    for s in seeds_l:
        a_parts, b_parts = [], []
        for sc in h.scenarios:
            ma = _margins(records[sc, h.a, s], h.test_set, h.checkpoint)
            mb = _margins(records[sc, h.b, s], h.test_set, h.checkpoint)
            if ma is None or mb is None:
                return [f"{sc}/{h.a if ma is None else h.b}/s{s}: no {h.checkpoint} checkpoint margins"]
            a_parts += ma
            b_parts += mb
        rows_a.append(a_parts)
        rows_b.append(b_parts)
    for sc in h.scenarios:
        for item in manifests[sc]["sets"][h.test_set]:
            for k in info:
                info[k].append(item.get(k))
    as_array = lambda rows: np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=float)  # noqa: E731
    arrays = {k: np.array([np.nan if v is None else float(v) for v in vals]) for k, vals in info.items()}
    return as_array(rows_a), as_array(rows_b), arrays, seeds_l


# ---- statistics -------------------------------------------------------------------------------------------


def spearman_rows(m: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of m with y."""
    from scipy.stats import rankdata

    rm, ry = rankdata(m, axis=1), rankdata(y)
    rm = rm - rm.mean(axis=1, keepdims=True)
    ry = ry - ry.mean()
    return (rm @ ry) / np.sqrt((rm**2).sum(axis=1) * (ry**2).sum())


def per_seed(
    statistic: str, a: np.ndarray, b: np.ndarray, info: dict[str, np.ndarray], tight: dict[str, float]
) -> np.ndarray:
    """d_s of each seed (rows of a and b) on the given pairs (columns)."""
    if statistic == "accuracy":
        return (a > 0).mean(axis=1) - (b > 0).mean(axis=1)
    if statistic == "spread":
        return a.std(axis=1) / b.std(axis=1) - 1.0
    if statistic == "spearman":
        return spearman_rows(a, info["strength"]) - spearman_rows(b, info["strength"])
    if statistic == "share":  # share of pairs past delta*/2 of the tight length bound
        half = (tight["b1"] / (info["similarity"] + tight["b2"]) + tight["b3"]) / 2
        return (a > half).mean(axis=1) - (b > half).mean(axis=1)
    raise ValueError(f"unknown statistic {statistic!r}")


def evaluate(h: Hypothesis, a: np.ndarray, b: np.ndarray, info: dict[str, np.ndarray]) -> dict[str, Any]:
    """diff, SE (paired bootstrap over pairs + seed spread), MDE and verdict of one hypothesis."""
    keep = ~(np.isnan(a).any(axis=0) | np.isnan(b).any(axis=0))
    if h.statistic == "spearman":
        keep &= ~np.isnan(info["strength"])
    a, b = a[:, keep], b[:, keep]
    info = {k: v[keep] for k, v in info.items()}
    tight = TIGHT_POLICY if h.a in ("pcrm-dpo", "dpo-tracked") else TIGHT_REWARD
    d = per_seed(h.statistic, a, b, info, tight)
    diff = float(d.mean())
    rng = np.random.default_rng(0)
    n = a.shape[1]
    boot = np.empty(BOOTSTRAP)
    for i in range(BOOTSTRAP):
        idx = rng.integers(0, n, n)
        boot[i] = per_seed(h.statistic, a[:, idx], b[:, idx], {k: v[idx] for k, v in info.items()}, tight).mean()
    seeds = len(d)
    se = float(np.sqrt(boot.var(ddof=1) + (d.var(ddof=1) / seeds if seeds > 1 else 0.0)))
    return {
        "diff": diff,
        "se": se,
        "mde": POWER_FACTOR * se,
        "verdict": verdict(diff, se, h.direction),
        "per_seed": [round(float(x), 4) for x in d],
        "pairs": int(n),
        "seeds": seeds,
    }


def verdict(diff: float, se: float, direction: int) -> str:
    if direction == 0:
        if diff - Z * se > -KEPT_MARGIN:
            return "confirmed"
        return "contradicted" if diff + Z * se < -KEPT_MARGIN else "undetectable"
    signed = direction * diff
    if signed > Z * se:
        return "confirmed"
    return "contradicted" if signed < -Z * se else "undetectable"


def check_all(
    records_dir: Path = EVIDENCE_RECORDS, hypotheses: tuple[Hypothesis, ...] = HYPOTHESES, encoding: str = ENCODING
) -> list[dict[str, Any]]:
    """Every hypothesis on the records of one encoding: a result, or `pending` with the runs it still needs."""
    manifests, records = load_records(records_dir, encoding)
    out = []
    for h in hypotheses:
        found = gather(h, manifests, records)
        if isinstance(found, list):
            out.append({"hypothesis": h, "pending": found})
            continue
        a, b, info, seeds = found
        out.append({"hypothesis": h, **evaluate(h, a, b, info)})
    return out


def claim_lines(results: list[dict[str, Any]]) -> list[str]:
    """One line per hypothesis, then the counts (`claims n=... confirmed=... contradicted=... undetectable=...`,
    n = the hypotheses with recorded runs; a `pending` line before it counts the others)."""
    lines, counts = [], {"confirmed": 0, "contradicted": 0, "undetectable": 0}
    pending = 0
    for r in results:
        h = r["hypothesis"]
        if "pending" in r:
            pending += 1
            lines.append(
                f"claim {h.id} pending missing={len(r['pending'])} ({', '.join(r['pending'][:4])}"
                f"{', ...' if len(r['pending']) > 4 else ''})"
            )
            continue
        counts[r["verdict"]] += 1
        lines.append(f"claim {h.id} diff={r['diff']:.4f} se={r['se']:.4f} mde={r['mde']:.4f} verdict={r['verdict']}")
    if pending:
        lines.append(f"pending n={pending} (their runs are not recorded yet)")
    lines.append(
        f"claims n={sum(counts.values())} confirmed={counts['confirmed']} "
        f"contradicted={counts['contradicted']} undetectable={counts['undetectable']}"
    )
    return lines


STATISTIC_TEXT: dict[str, str] = {
    "accuracy": "accuracy difference",
    "spread": "margin std ratio - 1",
    "spearman": "Spearman difference",
    "share": "share past delta*/2",
}


def claims_table(results: list[dict[str, Any]], fmt: Callable[[float], str] = lambda x: f"{x:+.3f}") -> str:
    """The markdown table of the hypotheses (docs/results.md)."""
    lines = [
        "| id | paper: claim (quoted, where) | paper's number (table, source) | compared here | difference | SE "
        "| MDE | verdict |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        h = r["hypothesis"]
        where = (
            f"{h.a} vs {h.b}, {STATISTIC_TEXT[h.statistic]}, {'+'.join(h.scenarios)} / {h.test_set}, "
            f"{h.checkpoint} checkpoint" + (f"; {h.note}" if h.note else "")
        )
        if "pending" in r:
            cells = f"– | – | – | pending ({len(r['pending'])} runs)"
        else:
            cells = f"{fmt(r['diff'])} | {r['se']:.3f} | {r['mde']:.3f} | **{r['verdict']}** ({r['seeds']} seeds)"
        source = f" ({h.source})" if h.source else ""
        lines.append(f'| {h.id} | {h.paper}: "{h.quote}"{source} | {h.number} | {where} | {cells} |')
    return "\n".join(lines) + "\n"
