"""Wall-time estimate of a preset from its token counts: a per-token cost model of the base model
(calibrated on measured runs, or measured on this machine now), the one-off passes (frozen trunk, reference
log-probs, sentence embeddings) and what a run needs when some of them are cached already."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .presets import METHODS, Budget, Preset, caches_needed, duration, steps_per_run


@dataclass(frozen=True)
class CostModel:
    """Per-token costs of the base model (ms). Defaults: SmolLM2-135M fp32 on the 2-core CPU, uncontended."""

    # Calibrated on the session preset's run (2026-11-30, idle machine): the frozen-trunk passes ran at
    # 2.27-2.39 ms per token through 28 of 30 layers; a top-2 BT step over 2.1k tokens took 1.09 s; DPO's
    # LM-head term added 1.53 ms per response token per training epoch (forward + backward).
    forward_ms: float = 2.5  # no-grad forward, per token the model runs on (large batches)
    full_train_ms: float = 5.5  # forward + backward through every layer (16 x <=512-token sequences: ~35 s a step)
    layers: int = 30
    lm_head_share: float = 0.31  # LM-head cost per response position relative to a token's body forward
    step_overhead_s: float = 0.3  # per optimizer step, independent of depth (optimizer, collation, logging)
    run_overhead_s: float = 25.0  # model load, checkpoint saves, export, reload, per run
    # all-MiniLM-L6-v2 (cosine prior), per prompt + response text (truncated at 256 word pieces): the standard
    # preset's first PCRM-cosine run (cold cache, 7,698 texts) took 5.0-6.2 min longer than the warm PCRM-cosine
    # seed 1 and PCRM-length runs, 39-48 ms per text (2026-11-30)
    embed_text_ms: float = 45.0
    # the evidence preset (top k layers on a cached trunk, untied LM head trained), calibrated on its first sitting
    # (2026-12-02: suite-a seed 0, BT 154 s and HaF 357 s of training for 2 epochs of 400 pairs, frozen trunk
    # 5.4 ms per token): the top layers' training cost per token relative to k/layers of a full step (short rows
    # run them less efficiently), the LM-head cost per response position in a training step relative to its
    # forward (forward + input gradient + weight gradient), the per-step overhead (optimizer over the 28M-parameter
    # LM-head copy, trunk-state collation), all on an idle machine; and the load factor of the machine the
    # sitting ran on (2 cores shared with other jobs outside the heavy-job lock: about 2x slower than idle)
    evidence_body_factor: float = 1.5
    lm_train_factor: float = 2.25
    evidence_step_s: float = 0.5
    evidence_load: float = 2.0
    evidence_run_overhead_s: float = 8.0

    def train_ms(self, budget: Budget) -> float:
        if budget.tuning == "top_layers":
            return self.forward_ms + budget.top_layers / self.layers * (self.full_train_ms - self.forward_ms)
        return self.full_train_ms


def measure_costs(preset: Preset, root: Path, steps: int = 3) -> CostModel:
    """Measure this machine now: no-grad forward and BT training step of the preset's model and budget on
    its own training pairs, in ms per packed token (one warm-up step each is not timed)."""
    import torch

    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.packing import PackedPair, pair_collator
    from rewardkit.data.sources import load_entries
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.losses import bradley_terry_loss

    b = preset.budget
    tokenizer = load_tokenizer(preset.model)
    pairs = load_entries(preset.train_entries(root))[: b.batch_size * (steps + 1)]
    encoded = PairEncoder(tokenizer, EncodingConfig(max_length=b.max_length)).encode_all(pairs)
    batches = [encoded[i : i + b.batch_size] for i in range(0, len(encoded), b.batch_size)]
    collate = pair_collator(tokenizer.pad_token_id)
    model = build_reward_model(
        ModelConfig(name=preset.model, tuning=b.tuning, top_layers=b.top_layers), keep_lm_head=False
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=b.learning_rate)

    def timed(train: bool) -> float:
        tokens, seconds = 0, 0.0
        for i, batch in enumerate(batches):
            start = time.perf_counter()
            with torch.set_grad_enabled(train):
                rewards = model(**collate(batch), need_rewards=True, need_logps=False)["rewards"]
                if train:
                    bradley_terry_loss(*rewards.chunk(2)).mean().backward()
                    optimizer.step()
                    optimizer.zero_grad()
            if i:  # the first batch warms up
                seconds += time.perf_counter() - start
                tokens += sum(PackedPair.from_encoded(e).length for e in batch)
        return 1000 * seconds / tokens

    model.eval()
    forward = timed(False)
    model.train()
    train = timed(True)
    k = b.top_layers / CostModel.layers if b.tuning == "top_layers" else 1.0
    full = forward + max(train - forward, 0.0) / k  # so that CostModel.train_ms(budget) == the measured step
    print(
        f"measured on {preset.model} ({preset.name} budget): forward {forward:.2f} ms/token, "
        f"training step {train:.2f} ms/token",
        flush=True,
    )
    return CostModel(forward_ms=forward, full_train_ms=full, step_overhead_s=0.0)  # overhead is in the measurement


def _token_counts(encoded: list[Any]) -> dict[str, int]:
    from rewardkit.data.packing import PackedPair

    packed = sum(PackedPair.from_encoded(e).length for e in encoded)  # training, validation and evaluate_suite
    responses = sum(len(e.chosen_ids) + len(e.rejected_ids) for e in encoded)
    return {"pairs": len(encoded), "packed": packed, "responses": responses}


def estimate(preset: Preset, root: Path, costs: CostModel) -> dict[str, Any]:
    """Predicted wall time of a preset (seconds) from its token counts, without and with a frozen-trunk cache."""
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.sources import load_entries, split_pairs
    from rewardkit.evaluation.suites import load_suite
    from rewardkit.models.loading import load_tokenizer

    b = preset.budget
    tokenizer = load_tokenizer(preset.model)
    encoder = PairEncoder(tokenizer, EncodingConfig(max_length=b.max_length))
    pairs = load_entries(preset.train_entries(root))
    train, val = split_pairs(pairs, preset.validation_fraction, 1)
    t, v = _token_counts(encoder.encode_all(train)), _token_counts(encoder.encode_all(val))
    sets = load_suite("standard", root, limit=preset.eval_limits, only=list(preset.eval_limits), exclude=pairs)
    e = [_token_counts(encoder.encode_all(s.pairs)) for s in sets.values()]
    ev = {k: sum(x[k] for x in e) for k in e[0]}
    f, lm = costs.forward_ms / 1000, costs.forward_ms * costs.lm_head_share / 1000
    train_ms = costs.train_ms(b) / 1000
    policy = {m: METHODS[m]["objective"] != "bt" for m in preset.methods}  # has an LM-head term
    per_run = {}
    for m in preset.methods:
        has_lm = policy[m]
        train_s = b.epochs * (
            t["packed"] * train_ms + (2 * lm * t["responses"] if has_lm else 0)
        ) + costs.step_overhead_s * steps_per_run(preset, t["pairs"])
        val_s = b.evals_per_epoch * b.epochs * (v["packed"] * f + (lm * v["responses"] if has_lm else 0))
        eval_s = ev["packed"] * f + (lm * ev["responses"] if has_lm else 0)
        per_run[m] = {"train": train_s, "validation": val_s, "eval": eval_s, "overhead": costs.run_overhead_s}
    once = 0.0
    if any(policy.values()):  # reference log-probs: training + validation pairs, eval sets (disk cache)
        once += (t["packed"] + v["packed"]) * f + (t["responses"] + v["responses"]) * lm
        once += ev["packed"] * f + ev["responses"] * lm
    embeddings_once = 0.0
    if any("embeddings" in caches_needed(m) for m in preset.methods):  # prompt + response, chosen and rejected
        embeddings_once = 2 * (t["pairs"] + v["pairs"]) * costs.embed_text_ms / 1000
    runs = sum(sum(r.values()) for r in per_run.values()) * len(preset.seeds)
    total = runs + once + embeddings_once
    # frozen-trunk cache: bottom layers once per pair, then only the top k layers per run and evaluation
    cached, cached_per_run, trunk_once, reference_once = None, None, 0.0, once
    if b.tuning == "top_layers":
        share = b.top_layers / costs.layers
        trunk_once = (t["packed"] + v["packed"] + ev["packed"]) * f * (1 - share)
        cached_per_run = {
            m: (r["train"] - b.epochs * t["packed"] * f * (1 - share))
            + (r["validation"] + r["eval"]) * share
            + r["overhead"]
            for m, r in per_run.items()
        }
        ref_trunk = (t["packed"] + v["packed"] + ev["packed"]) * f * (1 - share) if any(policy.values()) else 0.0
        reference_once = once - ref_trunk  # the reference passes reuse the trunk too
        cached = trunk_once + sum(cached_per_run.values()) * len(preset.seeds) + reference_once + embeddings_once
    return {
        "preset": preset.name,
        "train_tokens": t,
        "validation_tokens": v,
        "eval_tokens": ev,
        "per_run_seconds": per_run,
        "once_seconds": once + embeddings_once,
        "runs": len(preset.methods) * len(preset.seeds),
        "total_seconds": total,
        "with_trunk_cache_seconds": cached,
        "cached_per_run_seconds": cached_per_run,
        "trunk_once_seconds": trunk_once,
        "reference_once_seconds": reference_once,
        "embeddings_once_seconds": embeddings_once,
    }


def predicted_run_seconds(
    estimate_: dict[str, Any], method: str, trunk_done: bool, done: dict[str, bool] | None = None
) -> float:
    """One run's predicted wall time from `estimate`, with the one-off passes it would be first to need
    (`done`: cache kind -> its pass is cached already)."""
    cached = estimate_["cached_per_run_seconds"]
    seconds = cached[method] if cached else sum(estimate_["per_run_seconds"][method].values())
    if cached and not trunk_done:
        seconds += estimate_["trunk_once_seconds"]
    for kind in caches_needed(method):
        if not (done or {}).get(kind):
            seconds += estimate_[f"{kind}_once_seconds"]
    return seconds


def print_estimates(presets: list[Preset], root: Path, costs: CostModel) -> None:
    print(
        f"cost model: forward {costs.forward_ms:.2f} ms/token, full training {costs.full_train_ms:.2f} ms/token, "
        f"LM head {costs.lm_head_share:.2f}x per response position, {costs.step_overhead_s:.2f}s per step, "
        f"{costs.run_overhead_s:.0f}s overhead per run"
    )
    print(
        "| preset | runs | train tok/epoch | eval tok | per BT run | per DPO/HaF run | once | total | "
        "total with trunk cache |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for preset in presets:
        name = preset.name
        e = estimate(preset, root, costs)
        runs = e["per_run_seconds"]
        bt = next((sum(r.values()) for m, r in runs.items() if METHODS[m]["objective"] == "bt"), 0.0)
        po = next((sum(r.values()) for m, r in runs.items() if METHODS[m]["objective"] != "bt"), 0.0)
        cached = "–" if e["with_trunk_cache_seconds"] is None else duration(e["with_trunk_cache_seconds"])
        print(
            f"| {name} | {e['runs']} | {e['train_tokens']['packed']:,} | {e['eval_tokens']['packed']:,} | "
            f"{duration(bt)} | {duration(po)} | {duration(e['once_seconds'])} | {duration(e['total_seconds'])} "
            f"| {cached} |",
            flush=True,
        )


# ---- the evidence preset -------------------------------------------------------------------------------------


def evidence_passes(arm: str) -> list[str]:
    """The one-off passes a run of `arm` needs before it can start: the scenario's frozen trunk, reference
    log-probs of the training pairs (a policy term with a reference), of the test pairs (implicit-reward arms)."""
    from .evidence import arm_terms

    terms = arm_terms(arm)
    return ["trunk"] + (["reference"] if terms["reference"] else []) + (["test-reference"] if terms["implicit"] else [])


def estimate_evidence(scenarios: list[Any], root: Path, costs: CostModel, model: str) -> dict[str, Any]:
    """Predicted seconds of every evidence run (trunk cached) and of each scenario's one-off passes."""
    from .evidence import arm_terms, build_data
    from .evidence_runner import encoder_for, training_split

    out: dict[str, Any] = {"scenarios": {}, "total_seconds": 0.0}
    load = costs.evidence_load
    f, lm = load * costs.forward_ms / 1000, load * costs.forward_ms * costs.lm_head_share / 1000
    for sc in scenarios:
        s = sc.scope
        share = s.top_layers / costs.layers
        data = build_data(sc, root)
        encoder = encoder_for(sc, model)
        train, val = training_split(sc, data.train)
        t, v = _token_counts(encoder.encode_all(train)), _token_counts(encoder.encode_all(val)) if val else None
        tests = [_token_counts(encoder.encode_all(p)) for p in data.tests.values()]
        ts = {k: sum(x[k] for x in tests) for k in tests[0]}
        v = v or {"pairs": 0, "packed": 0, "responses": 0}
        steps = math.ceil(math.ceil(t["pairs"] / s.batch_size) * s.epochs)
        evals = math.ceil(s.epochs) if s.per_epoch else 1
        once = {
            "trunk": (t["packed"] + v["packed"] + ts["packed"]) * f * (1 - share),
            "reference": (t["packed"] + v["packed"]) * f * share + (t["responses"] + v["responses"]) * lm,
            "test-reference": ts["packed"] * f * share + ts["responses"] * lm,
        }
        runs = {}
        for arm in sc.arms:
            terms = arm_terms(arm)
            policy, implicit = terms["policy"], terms["implicit"]
            body_ms = load * costs.full_train_ms * share * costs.evidence_body_factor
            train_s = (
                s.epochs
                * (t["packed"] * body_ms / 1000 + (t["responses"] * lm * costs.lm_train_factor if policy else 0.0))
                + steps * load * costs.evidence_step_s
            )
            val_s = (
                math.ceil(s.epochs) * (v["packed"] * f * share + (v["responses"] * lm if policy else 0.0))
                if v["pairs"]
                else 0.0
            )
            test_s = evals * (ts["packed"] * f * share + (ts["responses"] * lm if implicit else 0.0))
            runs[arm] = {
                "train": train_s,
                "validation": val_s,
                "test": test_s,
                "overhead": load * costs.evidence_run_overhead_s,
            }
        total = sum(sum(r.values()) for r in runs.values()) * len(sc.seeds) + once["trunk"]
        total += once["reference"] * any("reference" in evidence_passes(a) for a in sc.arms)
        total += once["test-reference"] * any("test-reference" in evidence_passes(a) for a in sc.arms)
        out["scenarios"][sc.name] = {
            "runs": runs,
            "once": once,
            "seeds": len(sc.seeds),
            "train_tokens": t,
            "test_tokens": ts,
            "total_seconds": total,
        }
        out["total_seconds"] += total
    return out


def predicted_evidence_seconds(estimate_: dict[str, Any], scenario: str, arm: str, marks: Path | None) -> float:
    """One evidence run's predicted seconds, plus the one-off passes it would be first to need (`marks`: the
    runs dir's record of passes done on this machine; None: the run alone)."""
    sc = estimate_["scenarios"][scenario]
    seconds = sum(sc["runs"][arm].values())
    if marks is not None:
        seconds += sum(sc["once"][kind] for kind in evidence_passes(arm) if not (marks / f"{scenario}.{kind}").exists())
    return seconds


def print_evidence_estimate(estimate_: dict[str, Any]) -> None:
    from .evidence import arm_terms

    print("| scenario | arms x seeds | train tok/epoch | test tok | per BT-type run | per policy run | once | total |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, sc in estimate_["scenarios"].items():
        runs = {arm: sum(r.values()) for arm, r in sc["runs"].items()}
        bt = [v for a, v in runs.items() if not arm_terms(a)["policy"]]
        po = [v for a, v in runs.items() if arm_terms(a)["policy"]]
        once = sum(sc["once"].values())
        print(
            f"| {name} | {len(runs)} x {sc['seeds']} | {sc['train_tokens']['packed']:,} | "
            f"{sc['test_tokens']['packed']:,} | {duration(max(bt)) if bt else '–'} | "
            f"{duration(max(po)) if po else '–'} | {duration(once)} | {duration(sc['total_seconds'])} |"
        )
    print(f"evidence total: {duration(estimate_['total_seconds'])}", flush=True)
