"""Aspect reward models trained from fine-grained feedback (QA-Feedback) as ALaRM's long-form QA aspects.

  python benchmarks/aspect_rms.py --quick          # the quick preset (about 15-20 min on the 2-core CPU)
  python benchmarks/aspect_rms.py --estimate       # predicted wall time of every preset, from token counts
  python benchmarks/aspect_rms.py --preset full    # every training question, whole passages (hours on a CPU)

On ../shared/data/qa-feedback/dev_feedback.json, split by question (400 train / 100 test, data/readers/
qa_segments.py), one run of `rewardkit train-segments` per aspect (relevance, factuality, completeness) and one
for the holistic pairwise RM (`--aspect preference`), all SmolLM2-135M with the top layers trained on a shared
frozen-trunk cache (every model reads the same prompt + answer tokens, so the frozen layers run once per
sequence). Then, on the 100 test questions:

  1. segment metrics: accuracy, macro F1, error-class F1 and AUROC of each aspect model against the majority and
     text-metric baselines (prompt overlap, length; fitted on the training segments);
  2. consistency with the holistic reward over the candidate set (the three aspect models, as in ALaRM's QA
     setting, and rewardkit's text-metric aspects), on the 6 pairs of the 4 predictions of each question: the
     inconsistency rate and coverage of `rewardkit select-aspects` (rewards/consistency.py), and each
     candidate's agreement with the human pairwise labels;
  3. best-of-4 over the 4 predictions with configs/alarm/qa-feedback.yaml (hierarchical: threshold 0.6, w_h 5,
     per-segment z-normalisation measured on these candidates, offset-0 sigmoid shaping) against holistic-only
     (and weighted, aspects-only, prediction 1): how often the pick changes, and the human-label win rate of
     hierarchical over holistic on the questions where the picks differ.

Prints the tables, writes benchmarks/results/aspect_rms_<preset>.json and the section of docs/results.md
between its markers (with charts under docs/results/aspect-rms-<preset>/), and ends with

  aspects <preset> relevance_f1=<float> factuality_f1=<float> baseline_f1=<float> changed_picks=<float>

relevance_f1 / factuality_f1: the models' macro F1 on the judged test segments; baseline_f1: the mean over those
two aspects of the best baseline's macro F1 (majority, prompt overlap or length, whichever is highest);
changed_picks: the share of test questions whose hierarchical best-of-4 pick differs from the holistic one.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
RESULTS_MD = REPO / "docs" / "results.md"
REWARD_YAML = REPO / "configs" / "alarm" / "qa-feedback.yaml"
ASPECTS = ("relevance", "factuality", "completeness")
METHODS = ("hierarchical", "holistic", "weighted", "aspects", "first")
TEXT_METRICS = {"repetition": {"n": 3}, "spelling": {}, "readability": {}, "length": {}}


@dataclass(frozen=True)
class Preset:
    name: str
    train_questions: int | None = None  # the first N training questions for the aspect models (None: all 400)
    holistic_questions: int | None = None  # the first N training questions for the pairwise RM (None: all)
    max_passage_words: int | None = None  # passages in every prompt cut to this many words (None: whole)
    max_length: int = 2048
    top_layers: int = 4
    epochs: float = 2.0
    holistic_epochs: float = 1.0
    learning_rate: float = 2e-4
    batch_size: int = 8
    row_tokens: int = 1024  # packed row width (the dense CPU attention kernel pays for the whole row)
    model: str = "smollm2-135m"
    seed: int = 0


PRESETS = {
    "quick": Preset(
        "quick",
        holistic_questions=80,
        max_passage_words=40,
        max_length=512,
        top_layers=2,
        epochs=2.0,
        holistic_epochs=2.0,
        row_tokens=512,
    ),
    "full": Preset("full", max_length=2048, top_layers=4, epochs=3.0),
}


def data_path(root: str | None) -> Path:
    import os

    base = Path(root or os.environ.get("REWARDKIT_DATA") or REPO.parent / "shared" / "data")
    return base / "qa-feedback" / "dev_feedback.json"


# ---- training -----------------------------------------------------------------------------------------------


def run_config(preset: Preset, aspect: str, data: Path, runs: Path) -> Any:
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.segments import SegmentObjectiveConfig
    from rewardkit.training.config import TrainConfig
    from rewardkit.training.segments import SegmentDataConfig, SegmentRunConfig

    holistic = aspect == "preference"
    return SegmentRunConfig(
        model=ModelConfig(
            name=preset.model,
            tuning="top_layers",
            top_layers=preset.top_layers,
            cache_trunk=True,
            trunk_cache_dir=str(runs / "trunk"),
        ),
        data=SegmentDataConfig(
            path=str(data),
            aspect=aspect,
            passages=True,
            max_passage_words=preset.max_passage_words,
            max_length=preset.max_length,
            limit=preset.holistic_questions if holistic else preset.train_questions,
            keep_unjudged=True,
            row_tokens=preset.row_tokens,
            evaluate=not holistic,
        ),  # the holistic RM's test pairs are scored below, cached
        objective=SegmentObjectiveConfig(),
        training=TrainConfig(
            output_dir=str(runs / ("holistic" if holistic else aspect)),
            num_epochs=preset.holistic_epochs if holistic else preset.epochs,
            batch_size=preset.batch_size,
            learning_rate=preset.learning_rate,
            logging_steps=10,
            save_steps=10_000,
            save_total_limit=1,
            report_to=["none"],
            eval_before=False,
            seed=preset.seed,
        ),
    )


def train_all(preset: Preset, data: Path, runs: Path) -> dict[str, Any]:
    from rewardkit.training.segments import run_segment_training

    out = {}
    for aspect in (*ASPECTS, "preference"):
        started = time.time()
        results = run_segment_training(run_config(preset, aspect, data, runs))
        seconds = time.time() - started
        if aspect == "preference":
            out["holistic"] = {"export": results["export"], "seconds": seconds}
        else:
            out[aspect] = {
                "export": results["export"],
                "seconds": seconds,
                "granularity": results["granularity"],
                "model": results["after"],
                "baselines": results["baselines"],
            }
        for checkpoint in Path(results["export"]).parent.glob("checkpoint-*"):
            shutil.rmtree(checkpoint, ignore_errors=True)  # the export is what the benchmark keeps
        print(f"trained {aspect} in {seconds:.0f} s", flush=True)
    return out


# ---- scoring the best-of-4 candidates through one frozen-trunk pass -------------------------------------------


def score_candidates(
    preset: Preset, sets: list[Any], exports: dict[str, str], runs: Path
) -> tuple[dict[str, list[list[tuple[int, float]]]], np.ndarray]:
    """Per aspect, the placements of every candidate (question-major), and the holistic rewards."""
    from rewardkit.data.encoding import EncodedPair, EncodingConfig, PairEncoder
    from rewardkit.data.segment_encoding import SegmentCollator
    from rewardkit.evaluation.scoring import score_pairs
    from rewardkit.evaluation.segments import load_segment_scorer, score_encoded
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.models.trunk_cache import TrunkCache

    prompts = [s.prompt for s in sets for _ in s.candidates]
    responses = [c for s in sets for c in s.candidates]
    tokenizer = load_tokenizer(preset.model)
    cache = TrunkCache.for_base_model(preset.model, preset.top_layers, runs / "trunk")
    rows = preset.row_tokens
    placements = {}
    for aspect in ASPECTS:
        scorer = load_segment_scorer(exports[aspect])
        examples = scorer.examples(prompts, responses)
        encoded = scorer.encoder().encode_all(examples, desc=f"encoding {aspect}", keep_unjudged=True)
        cache.ensure(scorer.model, encoded, row_tokens=rows)
        collate = SegmentCollator(cache.collator(tokenizer.pad_token_id, rows))
        values = score_encoded(scorer.model, encoded, collate, desc=f"scoring {aspect}")
        placements[aspect] = [
            [(seg[1], values[i][k]) for k, seg in enumerate(ex.segments) if k in values.get(i, {})]
            for i, ex in enumerate(examples)
        ]
    model = build_reward_model(ModelConfig(name=exports["holistic"], tuning="full"), keep_lm_head=False)
    model.requires_grad_(False)
    encoder = PairEncoder(tokenizer, EncodingConfig(max_length=preset.max_length))
    singles = [encoder.encode_single(p, r) for p, r in zip(prompts, responses)]
    pairs = [EncodedPair(p, r, list(r), index=i) for i, (p, r) in enumerate(singles)]  # a sequence as a self-pair
    cache.ensure(model, pairs, row_tokens=rows)
    scores = score_pairs(model, pairs, cache.collator(tokenizer.pad_token_id, rows), desc="scoring holistic")
    holistic = np.empty(len(pairs))
    holistic[scores.index.numpy()] = scores.chosen.numpy()
    return placements, holistic


class Lookup:
    """A scorer that answers from precomputed values (injected into the reward components)."""

    def __init__(self, prompts: list[Any], responses: list[str], values: list[Any], holistic: bool):
        self.table = {self.key(p, r): v for p, r, v in zip(prompts, responses, values)}
        self.holistic = holistic

    @staticmethod
    def key(prompt: Any, response: str) -> str:
        return json.dumps([prompt, response], ensure_ascii=False)

    def score(self, prompts: list[Any], responses: list[str], batch_size: int = 16) -> Any:
        import torch

        values = [self.table[self.key(p, r)] for p, r in zip(prompts, responses)]
        return {"rewards": torch.tensor(values, dtype=torch.float64)} if self.holistic else values


# ---- analyses -------------------------------------------------------------------------------------------------


def human_prefs(sets: list[Any]) -> np.ndarray:
    """(questions, 6) human labels as +1 (first better) / -1 (second) / 0 (no preference)."""
    return np.array([[1 if lab == 1 else -1 if lab == 2 else 0 for lab in s.preference] for s in sets])


def pair_prefs(scores: np.ndarray) -> np.ndarray:
    """(questions, 6) +1/-1/0 preferences of a (questions, 4) score table over the QA-Feedback pairs."""
    from rewardkit.data.readers.qa_feedback import PAIRS
    from rewardkit.rewards.consistency import preferences

    return np.stack([preferences(scores[:, a - 1], scores[:, b - 1]) for a, b in PAIRS], axis=1)


def consistency(candidates: dict[str, np.ndarray], holistic: np.ndarray, human: np.ndarray) -> list[dict[str, Any]]:
    from rewardkit.rewards.consistency import aspect_consistency, rank_aspects

    h = pair_prefs(holistic).reshape(-1)
    rows = {}
    for name, scores in candidates.items():
        prefs = pair_prefs(scores)
        rows[name] = aspect_consistency(name, h, prefs.reshape(-1))
    out = []
    decided = human.reshape(-1) != 0
    for r in rank_aspects(list(rows.values())):
        prefs = pair_prefs(candidates[r.name]).reshape(-1)
        agree = float(((prefs == human.reshape(-1)) & decided).sum() / decided.sum())
        strict = decided & (prefs != 0)
        out.append(
            {
                **asdict(r),
                "human_agreement": agree,
                "human_accuracy_when_strict": float((prefs[strict] == human.reshape(-1)[strict]).mean())
                if strict.any()
                else math.nan,
            }
        )
    holistic_prefs = h
    out.insert(
        0,
        {
            "name": "holistic (reference)",
            "human_agreement": float(((holistic_prefs == human.reshape(-1)) & decided).sum() / decided.sum()),
        },
    )
    return out


def human_wins(sets: list[Any], i: int, q: int) -> float:
    """Share of the human comparisons of prediction i (0-based) of question q that it wins (ties 1/2)."""
    from rewardkit.data.readers.qa_feedback import PAIRS

    total, n = 0.0, 0
    for (a, b), label in zip(PAIRS, sets[q].preference):
        if i + 1 in (a, b):
            n += 1
            first = i + 1 == a
            total += 0.5 if label == 0 else float((label == 1) == first)
    return total / n


def pair_label(sets: list[Any], q: int, i: int, j: int) -> int:
    """+1 if humans prefer prediction i over j (0-based) on question q, -1 if j, 0 if no preference."""
    from rewardkit.data.readers.qa_feedback import PAIRS

    a, b = sorted((i + 1, j + 1))
    label = sets[q].preference[PAIRS.index((a, b))]
    pref = 1 if label == 1 else -1 if label == 2 else 0
    return pref if i + 1 == a else -pref


def best_of_4(reward: Any, sets: list[Any]) -> dict[str, Any]:
    from rewardkit.generation.bon import select_best

    prompts = [s.prompt for s in sets for _ in s.candidates]
    responses = [c for s in sets for c in s.candidates]
    stats = reward.calibrate(prompts, responses, only_missing=False)
    b = reward.breakdown(prompts, responses)
    shape = (len(sets), 4)
    picks = {m: select_best(b.rewards(m).reshape(shape)) for m in METHODS if m != "first"}
    picks["first"] = np.zeros(len(sets), dtype=int)
    out: dict[str, Any] = {
        "questions": len(sets),
        "stats": {k: asdict(v) for k, v in stats.items()},
        "above_threshold": float((b.holistic >= reward.settings.threshold).mean()),
        "methods": {},
    }
    for m, pick in picks.items():
        share = float(np.mean([human_wins(sets, int(i), q) for q, i in enumerate(pick)]))
        out["methods"][m] = {"human_win_share": share, "picks": np.bincount(pick, minlength=4).tolist()}
    for other in ("holistic", "weighted", "aspects", "first"):
        changed = np.flatnonzero(picks["hierarchical"] != picks[other])
        labels = [pair_label(sets, int(q), int(picks["hierarchical"][q]), int(picks[other][q])) for q in changed]
        wins, ties = sum(x > 0 for x in labels), sum(x == 0 for x in labels)
        out[f"vs_{other}"] = {
            "changed": int(changed.size),
            "changed_share": float(changed.size / len(sets)),
            "wins": wins,
            "ties": ties,
            "losses": len(labels) - wins - ties,
            "win_rate": (wins + ties / 2) / len(labels) if labels else math.nan,
        }
    shaped = {name: terms.reshape(shape) for name, terms in b.aspect_terms.items()}
    out["aspect_term_mean"] = {name: float(t.mean()) for name, t in shaped.items()}
    out["holistic_term_spread"] = float(
        np.mean(np.ptp(reward.settings.holistic_weight * b.holistic.reshape(shape), axis=1))
    )
    out["aspect_total_spread"] = float(np.mean(np.ptp(b.aspect_total.reshape(shape), axis=1)))
    return out


def analyse(preset: Preset, data: Path, runs: Path, trained: dict[str, Any]) -> dict[str, Any]:
    from rewardkit.data.readers.qa_segments import PromptFormat, candidate_sets, load_qa_records
    from rewardkit.rewards.config import build_reward_function, load_reward_config
    from rewardkit.rewards.metrics import build_metric

    fmt = PromptFormat(passages=True, max_passage_words=preset.max_passage_words)
    sets = candidate_sets(load_qa_records(data, "test"), fmt)
    exports = {k: v["export"] for k, v in trained.items()}
    started = time.time()
    placements, holistic = score_candidates(preset, sets, exports, runs)
    scoring_seconds = time.time() - started
    prompts = [s.prompt for s in sets for _ in s.candidates]
    responses = [c for s in sets for c in s.candidates]
    shape = (len(sets), 4)
    candidates = {a: np.array([sum(v for _, v in row) for row in placements[a]]).reshape(shape) for a in ASPECTS}
    for metric, options in TEXT_METRICS.items():
        component = build_metric(metric, metric, options)
        candidates[f"{metric} (text metric)"] = np.array(component.score(prompts, responses)).reshape(shape)
    human = human_prefs(sets)
    table = consistency(candidates, holistic.reshape(shape), human)
    decided = human != 0
    holistic_test = {
        "pairs": int(decided.sum()),
        "accuracy": float((pair_prefs(holistic.reshape(shape)) == human)[decided].mean()),
    }

    config = load_reward_config(REWARD_YAML)
    config.holistic.path = exports["holistic"]
    for aspect in config.aspects:
        aspect.path = exports[aspect.name]
    config.stats_file = None
    reward = build_reward_function(config)
    reward.holistic.scorer = Lookup(prompts, responses, holistic.tolist(), holistic=True)
    for aspect in reward.aspects:
        aspect.component.scorer = Lookup(prompts, responses, placements[aspect.component.name], holistic=False)
    bon = best_of_4(reward, sets)
    return {
        "consistency": table,
        "best_of_4": bon,
        "scoring_seconds": scoring_seconds,
        "holistic_test": holistic_test,
        "reward": {
            k: v
            for k, v in asdict(config).items()
            if k in ("combine", "threshold", "holistic_weight", "sigmoid_shaping", "sigmoid_offset")
        },
    }


# ---- report ----------------------------------------------------------------------------------------------------


def best_baseline(aspect_result: dict[str, Any]) -> tuple[str, float]:
    name, m = max(aspect_result["baselines"].items(), key=lambda kv: kv[1]["macro_f1"])
    return name, m["macro_f1"]


def summary_line(result: dict[str, Any]) -> str:
    t = result["trained"]
    base = np.mean([best_baseline(t[a])[1] for a in ("relevance", "factuality")])
    changed = result["analysis"]["best_of_4"]["vs_holistic"]["changed_share"]
    return (
        f"aspects {result['preset']['name']} relevance_f1={t['relevance']['model']['macro_f1']:.4f} "
        f"factuality_f1={t['factuality']['model']['macro_f1']:.4f} baseline_f1={base:.4f} "
        f"changed_picks={changed:.4f}"
    )


def finite(value: Any) -> Any:
    """`value` with NaN / inf floats as None (strict JSON)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _f(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def markdown(result: dict[str, Any]) -> str:
    t, a = result["trained"], result["analysis"]
    lines = [
        "### Segment metrics on the 100 test questions (judged segments)",
        "",
        "| aspect | segments | scorer | accuracy | error F1 | macro F1 | AUROC |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for aspect in ASPECTS:
        r = t[aspect]
        rows = [("model", r["model"])] + [(f"baseline: {k}", v) for k, v in r["baselines"].items()]
        for name, m in rows:
            lines.append(
                f"| {aspect} | {r['granularity']} ({m['segments']}, {m['error_rate']:.0%} errors) | {name} | "
                f"{_f(m['accuracy'])} | {_f(m['error_f1'])} | {_f(m['macro_f1'])} | {_f(m.get('auroc'))} |"
            )
    h = a["holistic_test"]
    lines += [
        "",
        f"Holistic pairwise RM: accuracy {h['accuracy']:.3f} on the {h['pairs']} human-labelled test pairs "
        "(a tie counts as wrong).",
        "",
        "### Consistency with the holistic reward (6 pairs x 100 test questions)",
        "",
        "| rank | candidate | inconsistency | coverage | disagreements | both strict | agrees with humans |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for i, row in enumerate(a["consistency"]):
        if "inconsistency_rate" not in row:
            lines.append(f"| | {row['name']} | | | | | {_f(row['human_agreement'])} |")
            continue
        lines.append(
            f"| {i} | {row['name']} | {_f(row['inconsistency_rate'])} | {_f(row['coverage'])} | "
            f"{row['disagreements']} | {row['both_strict']} | {_f(row['human_agreement'])} |"
        )
    b = a["best_of_4"]
    lines += [
        "",
        f"### Best-of-4 over the QA-Feedback predictions ({b['questions']} test questions)",
        "",
        f"Reward: configs/alarm/qa-feedback.yaml ({a['reward']}); holistic z-score >= threshold on "
        f"{b['above_threshold']:.0%} of the candidates; mean spread within a question: w_h * h "
        f"{b['holistic_term_spread']:.2f}, aspect total {b['aspect_total_spread']:.2f}.",
        "",
        "| method | human win share of the pick | picks (prediction 1..4) |",
        "|---|---:|---|",
    ]
    for m, row in b["methods"].items():
        lines.append(f"| {m} | {row['human_win_share']:.3f} | {row['picks']} |")
    lines += ["", "| hierarchical vs | picks changed | human label W/T/L | win rate |", "|---|---:|---|---:|"]
    for other in ("holistic", "weighted", "aspects", "first"):
        c = b[f"vs_{other}"]
        lines.append(
            f"| {other} | {c['changed']} ({c['changed_share']:.0%}) | {c['wins']}/{c['ties']}/{c['losses']} | "
            f"{_f(c['win_rate'])} |"
        )
    return "\n".join(lines) + "\n"


def write_charts(result: dict[str, Any], chart_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rewardkit.files import atomic_path
    from rewardkit.rewards.consistency import AspectConsistency, bar_chart

    chart_dir.mkdir(parents=True, exist_ok=True)
    t = result["trained"]
    scorers = ["model"] + list(t["relevance"]["baselines"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    x = np.arange(len(ASPECTS))
    for ax, metric in zip(axes, ("macro_f1", "auroc")):
        for k, s in enumerate(scorers):
            vals = [(t[a]["model"] if s == "model" else t[a]["baselines"][s]).get(metric, math.nan) for a in ASPECTS]
            ax.bar(x + (k - (len(scorers) - 1) / 2) * 0.2, vals, width=0.2, label=s)
        ax.set_xticks(x, ASPECTS)
        ax.set_ylim(0, 1)
        ax.set_title(metric.replace("_", " "))
        ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    metrics_png = chart_dir / "segment_metrics.png"
    with atomic_path(metrics_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    rows = [
        AspectConsistency(**{k: r[k] for k in AspectConsistency.__dataclass_fields__})
        for r in result["analysis"]["consistency"]
        if "inconsistency_rate" in r
    ]
    consistency_png = bar_chart(
        rows, chart_dir / "consistency.png", title="aspects vs the holistic RM (QA-Feedback test pairs)"
    )
    return {"metrics": metrics_png, "consistency": consistency_png}


def begin_marker(preset: str) -> str:
    return (
        f"<!-- BEGIN aspects:{preset} (generated by benchmarks/aspect_rms.py from "
        f"benchmarks/results/aspect_rms_{preset}.json; edits inside are overwritten) -->"
    )


def render_docs(result: dict[str, Any], document: Path = RESULTS_MD) -> None:
    from rewardkit.files import write_text_atomic

    name = result["preset"]["name"]
    charts = write_charts(result, document.parent / "results" / f"aspect-rms-{name}")
    links = {k: p.relative_to(document.parent).as_posix() for k, p in charts.items()}
    p = result["preset"]
    body = [
        f"## Aspect reward models from fine-grained feedback ({name} preset)",
        "",
        f"`{result['command']}`: {result['seconds'] / 60:.1f} min wall on {result['platform']}, "
        f"{p['model']} (top {p['top_layers']} layers, frozen-trunk cache), passages cut to "
        f"{p['max_passage_words'] or 'all'} words, max length {p['max_length']}, aspect models on "
        f"{result['questions']['aspects']} training questions, holistic RM on {result['questions']['holistic']}. "
        "See docs/alarm.md for the method and the discussion.",
        "",
        markdown(result),
        f"![segment metrics]({links['metrics']}) ![consistency]({links['consistency']})",
        "",
        f"`{summary_line(result)}`",
    ]
    text = document.read_text() if document.exists() else "# Results\n"
    begin, end = begin_marker(name), f"<!-- END aspects:{name} -->"
    block = f"{begin}\n" + "\n".join(body).rstrip() + f"\n{end}"
    pattern = re.compile(re.escape(f"<!-- BEGIN aspects:{name} ") + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_text_atomic(document, text)


# ---- estimate --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Costs:
    """ms per token, SmolLM2-135M fp32 on the 2-core CPU."""

    # uncontended (methods benchmark, 2026-11-30); the first quick run here (2026-12-02, another job sharing the
    # CPU) measured 5.6 ms per trunk token, and top-2 training at 0.21 ms per layer per token per epoch
    trunk_ms: float = 2.4  # frozen layers, no grad, per layer share ~ (30 - top) / 30 of a full forward
    top_train_ms_per_layer: float = 0.21  # forward + backward of one trained layer, per token per epoch
    top_score_ms_per_layer: float = 0.08
    run_overhead_s: float = 25.0  # model load, export, per run


def estimate(preset: Preset, data: Path, costs: Costs = Costs()) -> dict[str, Any]:
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.packing import PackedPair
    from rewardkit.data.readers.qa_segments import (
        PromptFormat,
        candidate_sets,
        load_qa_records,
        preference_pairs,
        segment_examples,
    )
    from rewardkit.data.segment_encoding import SegmentEncoder
    from rewardkit.models.loading import load_tokenizer

    tokenizer = load_tokenizer(preset.model)
    encoding = EncodingConfig(max_length=preset.max_length)
    fmt = PromptFormat(passages=True, max_passage_words=preset.max_passage_words)
    train, test = load_qa_records(data, "train"), load_qa_records(data, "test")
    seg = SegmentEncoder(tokenizer, encoding)

    def tokens(examples: list[Any]) -> int:
        return sum(PackedPair.from_encoded(e).length for e in seg.encode_all(examples, keep_unjudged=True))

    train_tokens = tokens(segment_examples(train[: preset.train_questions], "relevance", fmt, keep_unjudged=True))
    test_tokens = tokens(segment_examples(test, "relevance", fmt, keep_unjudged=True))
    pairs = PairEncoder(tokenizer, encoding).encode_all(preference_pairs(train[: preset.holistic_questions], fmt))
    pair_tokens = sum(PackedPair.from_encoded(p).length for p in pairs)
    sets = candidate_sets(test, fmt)
    singles = [PairEncoder(tokenizer, encoding).encode_single(s.prompt, c) for s in sets for c in s.candidates]
    bon_tokens = sum(len(p) + len(r) + 1 for p, r in singles) - test_tokens  # prediction 1 is cached already
    k = preset.top_layers
    trunk = costs.trunk_ms * (30 - k) / 30 / 1000
    seconds = {
        "trunk: training sequences (shared by the 3 aspects)": train_tokens * trunk,
        "trunk: test sequences": test_tokens * trunk,
        "trunk: holistic pairs": pair_tokens * trunk,
        "trunk: best-of-4 candidates": bon_tokens * trunk,
        "aspect training (3 models)": 3 * preset.epochs * train_tokens * k * costs.top_train_ms_per_layer / 1000,
        "holistic training": preset.holistic_epochs * pair_tokens * k * costs.top_train_ms_per_layer / 1000,
        "scoring (top layers)": (3 * test_tokens + 4 * (bon_tokens + test_tokens))
        * k
        * costs.top_score_ms_per_layer
        / 1000,
        "runs and loads": 4 * costs.run_overhead_s + 4 * 5,
    }
    return {
        "tokens": {
            "train": train_tokens,
            "test": test_tokens,
            "holistic_pairs": pair_tokens,
            "holistic_pair_count": len(pairs),
            "bon_extra": bon_tokens,
        },
        "seconds": seconds,
        "total_seconds": sum(seconds.values()),
    }


def print_estimate(preset: Preset, data: Path) -> None:
    e = estimate(preset, data)
    print(f"\n{preset.name}: predicted {e['total_seconds'] / 60:.1f} min (tokens: {e['tokens']})")
    for what, s in e["seconds"].items():
        print(f"  {what:<55} {s / 60:6.1f} min")


# ---- main ------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default=None)
    p.add_argument("--quick", action="store_true", help="= --preset quick")
    p.add_argument("--data-root", default=None, help="default: $REWARDKIT_DATA or ../shared/data")
    p.add_argument("--runs-dir", default=None, help="default: runs/aspect_rms/<preset>")
    p.add_argument("--results-dir", default=str(RESULTS))
    p.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the trained models and trunk cache of an earlier run in --runs-dir (timings then exclude training)",
    )
    p.add_argument("--no-docs", action="store_true", help="do not rewrite the section of docs/results.md")
    p.add_argument("--estimate", action="store_true", help="print predicted wall times instead of running")
    p.add_argument("--render", action="store_true", help="only rewrite docs/results.md from the preset's JSON")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a preset field, e.g. --set model=PATH --set train_questions=20 (repeatable)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.preset = "quick"
    if not (args.preset or args.estimate):
        p.error("give --preset NAME, --quick or --estimate")
    if args.render and not args.preset:
        p.error("--render needs --preset NAME or --quick")
    return args


def with_overrides(preset: Preset, overrides: list[str]) -> Preset:
    import yaml

    fields = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in Preset.__dataclass_fields__ or key == "name":
            raise SystemExit(
                f"--set {item!r}: expected FIELD=VALUE with FIELD one of "
                f"{sorted(set(Preset.__dataclass_fields__) - {'name'})}"
            )
        fields[key] = yaml.safe_load(value)
    return replace(preset, **fields)


def main(argv: list[str] | None = None) -> int:
    from rewardkit.files import write_json_atomic

    args = parse_args(argv)
    data = data_path(args.data_root)
    if args.estimate:
        for preset in [PRESETS[args.preset]] if args.preset else PRESETS.values():
            print_estimate(with_overrides(preset, args.overrides), data)
        return 0
    if args.render:
        render_docs(json.loads((Path(args.results_dir) / f"aspect_rms_{args.preset}.json").read_text()))
        return 0
    preset = with_overrides(PRESETS[args.preset], args.overrides)
    runs = Path(args.runs_dir or f"runs/aspect_rms/{preset.name}")
    started = time.time()
    reused = args.reuse and (runs / "trained.json").exists()
    if reused:
        trained = json.loads((runs / "trained.json").read_text())
    else:
        shutil.rmtree(runs / "trunk", ignore_errors=True)  # a cold run: its timings include every trunk pass
        trained = train_all(preset, data, runs)
        write_json_atomic(runs / "trained.json", trained)
    analysis = analyse(preset, data, runs, trained)
    command = "python benchmarks/aspect_rms.py " + (f"--preset {preset.name}" if preset.name != "quick" else "--quick")
    command += "".join(f" --set {o}" for o in args.overrides)
    result = {
        "preset": asdict(preset),
        "command": command,
        "platform": platform.platform(),
        "seconds": time.time() - started,
        "reused_training": reused,
        "questions": {
            "aspects": preset.train_questions or 400,
            "holistic": preset.holistic_questions or 400,
            "test": 100,
        },
        "trained": trained,
        "analysis": analysis,
    }
    out = Path(args.results_dir) / f"aspect_rms_{preset.name}.json"
    write_json_atomic(out, finite(result), default=str)
    print(markdown(result))
    if not args.no_docs:
        render_docs(result)
    print(f"results: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    print(summary_line(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
