"""Training throughput on one run: TRL's RewardTrainer / DPOTrainer vs rewardkit (padded and packed rows).

  python benchmarks/throughput.py --quick     # 1 warm-up + 2 timed steps per configuration (~10 min, 2-core CPU)
  python benchmarks/throughput.py             # the reported numbers: 2 warm-up + 8 timed steps, and TRL DPO
                                              # with its precomputed reference as well
  python benchmarks/throughput.py --quick --model tiny   # a tiny random model: a smoke run in a minute
  python benchmarks/throughput.py --rounds 2  # on a shared machine: each configuration's fastest of 2 runs

Every configuration trains the same model (default SmolLM2-135M, full fine-tuning, AdamW, no gradient
checkpointing, no evaluation) on the same pairs (the first N pairs of HH-RLHF harmless-base test, N = steps
x batch), in the same order (sequential sampling) and the same tokens: rewardkit's encoder renders and
truncates every pair once, and TRL gets those token ids pre-tokenized. dtype: fp32 on CPU, bf16 autocast on
a GPU (both sides). Each configuration runs in its own subprocess, so peak memory does not mix.

  trl_rm           TRL RewardTrainer (padded rows, chosen and rejected each a row)
  rk_bt_padded     rewardkit BT, one padded row per sequence
  rk_bt_packed     rewardkit BT, shared-prefix packed rows (data/packing.py)
  trl_dpo          TRL DPOTrainer, reference model forward every step (TRL's default)
  trl_dpo_precomp  TRL DPOTrainer with precompute_ref_log_probs=True (full mode)
  rk_dpo_packed    rewardkit DPO, packed, reference log-probs precomputed once by a packed no-grad pass
  rk_haf_packed    rewardkit HaF (BT + 0.2 DPO), packed, reference precomputed

Timed steps are wall-clock intervals between consecutive optimizer steps after the warm-up (data loading,
forward, backward, optimizer). pairs/s and pair tokens/s count the same work for everybody (prompt + response
tokens of both sequences of a pair); grid tokens are what the model actually ran on (padding included, shared
prefixes once). FLOPs are counted on the grid: 2 x (non-embedding parameters) per token, 4 x attention width
per visible (query, key) pair per layer, 2 x hidden x vocabulary per LM-head position; x3 with the backward,
x1 for a no-grad reference forward. The peak is a measured fp32 (bf16 on GPU) matmul rate.

The equality check runs SmolLM2 (or --model) on real HH pairs and on the built-in suite, padded vs packed:
rewards, log-probs and BT / HaF / DPO losses must agree within 1e-4 (log-probs: 1e-4 + 1e-5 relative).

Prints a table, writes benchmarks/results/throughput[_quick].json, and ends with
  throughput bt_vs_trl=<x> dpo_vs_trl=<x> haf_over_bt=<x> packed_equal=<true|false>
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rewardkit.files import write_json_atomic

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DATA_ROOT = Path(os.environ.get("REWARDKIT_DATA", REPO.parent / "shared" / "data"))
HH_HARMLESS = DATA_ROOT / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"

CONFIGS = ("trl_rm", "rk_bt_padded", "rk_bt_packed", "trl_dpo", "trl_dpo_precomp", "rk_dpo_packed", "rk_haf_packed")
QUICK_CONFIGS = tuple(c for c in CONFIGS if c != "trl_dpo_precomp")
REWARD_TOL, LOGP_ATOL, LOGP_RTOL, LOSS_TOL = 1e-4, 1e-4, 1e-5, 1e-4


@dataclass
class Settings:
    """One benchmark run; every configuration gets the same settings."""

    model: str = "smollm2-135m"
    max_length: int = 512
    batch_size: int = 8
    warmup_steps: int = 2
    timed_steps: int = 8
    row_tokens: int = 1024
    equal_pairs: int = 8  # real HH pairs in the equality check (plus one suite pair per family)
    learning_rate: float = 1e-6

    @property
    def num_pairs(self) -> int:
        return (self.warmup_steps + self.timed_steps) * self.batch_size

    def __post_init__(self) -> None:
        if self.warmup_steps < 1 or self.timed_steps < 1:
            raise ValueError("need at least one warm-up and one timed step")


# ---- measurement helpers (used inside the workers) ---------------------------------------------------


@dataclass
class BatchStats:
    pairs: int
    pair_tokens: int  # prompt + response tokens of both sequences of every pair (the same for every layout)
    grid_tokens: int  # rows x width the model ran on
    visible: int  # (query, key) pairs attention has to compute, real tokens only
    lm_positions: int  # positions the LM head runs on (0 for reward-only)


class CountingCollator:
    """Wraps a collator and records what each batch holds (batches are made in step order)."""

    def __init__(self, inner: Callable, lm_head: str):
        self.inner, self.lm_head = inner, lm_head  # lm_head: none | responses | all
        self.stats: list[BatchStats] = []

    def __call__(self, features: list[Any]) -> dict[str, Any]:
        from rewardkit.data.collate import batch_work

        batch = self.inner(features)
        mask = batch["attention_mask"]
        work = batch_work(batch)
        grid, real, visible = work["grid_tokens"], work["tokens"], work["attention_pairs"]
        lm = {"none": 0, "responses": int(batch.get("logp_targets", torch.empty(0)).numel()), "all": grid}[self.lm_head]
        pair_tokens = (
            real
            if mask.dim() == 2
            else sum(2 * len(f.prompt_ids) + len(f.chosen_ids) + len(f.rejected_ids) for f in features)
        )
        self.stats.append(BatchStats(len(features), pair_tokens, grid, visible, lm))
        return batch


def step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall-clock time at the start of training and at the end of every optimizer step."""

        def __init__(self) -> None:
            self.marks: list[float] = []
            self.cpu_marks: list[float] = []  # process CPU time (all threads): a second view on a busy machine

        def _mark(self) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.marks.append(time.perf_counter())
            self.cpu_marks.append(time.process_time())

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._mark()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._mark()

    return StepTimer()


def model_shape(model_dir: str) -> dict[str, int]:
    """Sizes the FLOP count needs: non-embedding parameters, layers, attention width, hidden, vocabulary."""
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        lm = AutoModelForCausalLM.from_config(cfg)
    decoder = lm.get_decoder()
    embed = decoder.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in decoder.parameters()) - embed
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return {
        "body_params": body,
        "layers": cfg.num_hidden_layers,
        "attn_width": cfg.num_attention_heads * head_dim,
        "hidden": cfg.hidden_size,
        "vocab": cfg.vocab_size,
    }


def forward_flops(shape: dict[str, int], s: BatchStats) -> float:
    return (
        2.0 * shape["body_params"] * s.grid_tokens
        + 4.0 * shape["attn_width"] * shape["layers"] * s.visible
        + 2.0 * shape["hidden"] * shape["vocab"] * s.lm_positions
    )


def peak_memory_gib() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


# ---- data (the same tokens for every configuration) --------------------------------------------------


def encoded_pairs(settings: Settings, n: int, tokenizer: Any) -> list[Any]:
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.loading import DataSpec, load_pairs

    pairs = load_pairs(DataSpec(str(HH_HARMLESS), format="hh", limit=n + 32))
    encoded = PairEncoder(tokenizer, EncodingConfig(max_length=settings.max_length)).encode_all(pairs)
    if len(encoded) < n:
        raise RuntimeError(f"only {len(encoded)} usable pairs in {HH_HARMLESS}, need {n}")
    return encoded[:n]


def training_kwargs(settings: Settings, out_dir: str) -> dict[str, Any]:
    cuda = torch.cuda.is_available()
    return dict(
        output_dir=out_dir,
        per_device_train_batch_size=settings.batch_size,
        max_steps=settings.warmup_steps + settings.timed_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        save_strategy="no",
        eval_strategy="no",
        logging_steps=10**6,
        report_to=[],
        seed=0,
        data_seed=0,
        train_sampling_strategy="sequential",
        dataloader_num_workers=0,
        gradient_checkpointing=False,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        disable_tqdm=True,
    )


# ---- one configuration (runs in a subprocess) --------------------------------------------------------


def run_trl(
    name: str, settings: Settings, model_dir: str, tokenizer: Any, encoded: list[Any], out_dir: str
) -> tuple[Any, CountingCollator, Any, float]:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    kwargs = training_kwargs(settings, out_dir)
    dtype_kw = dict(dtype=torch.float32, attn_implementation="sdpa")
    timer = step_timer()
    if name == "trl_rm":
        from trl import RewardConfig, RewardTrainer
        from trl.trainer.reward_trainer import DataCollatorForPreference

        model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1, **dtype_kw)
        model.config.pad_token_id = tokenizer.pad_token_id
        data = Dataset.from_dict(
            {
                "chosen_ids": [e.prompt_ids + e.chosen_ids for e in encoded],
                "rejected_ids": [e.prompt_ids + e.rejected_ids for e in encoded],
            }
        )
        collate = CountingCollator(DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id), "none")
        started = time.perf_counter()
        trainer = RewardTrainer(
            model=model,
            args=RewardConfig(max_length=settings.max_length, **kwargs),
            train_dataset=data,
            processing_class=tokenizer,
            data_collator=collate,
            callbacks=[timer],
        )
        return trainer, collate, timer, time.perf_counter() - started
    from trl import DPOConfig, DPOTrainer
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    class PretokenizedDPOTrainer(DPOTrainer):
        """TRL's DPOTrainer on the token ids rewardkit made (its own tokenization is skipped)."""

        def _prepare_dataset(self, dataset: Any, *args: Any, **kw: Any) -> Any:
            return dataset

    model = AutoModelForCausalLM.from_pretrained(model_dir, **dtype_kw)
    data = Dataset.from_dict(
        {
            "prompt_ids": [e.prompt_ids for e in encoded],
            "chosen_ids": [e.chosen_ids for e in encoded],
            "rejected_ids": [e.rejected_ids for e in encoded],
        }
    )
    collate = CountingCollator(
        DataCollatorForPreference(pad_token_id=tokenizer.pad_token_id, max_length=settings.max_length), "all"
    )
    args = DPOConfig(
        max_length=settings.max_length,
        beta=0.1,
        loss_type=["sigmoid"],
        precompute_ref_log_probs=name == "trl_dpo_precomp",
        **kwargs,
    )
    started = time.perf_counter()
    trainer = PretokenizedDPOTrainer(
        model=model, args=args, train_dataset=data, processing_class=tokenizer, data_collator=collate, callbacks=[timer]
    )
    return trainer, collate, timer, time.perf_counter() - started


def run_rewardkit(
    name: str, settings: Settings, model_dir: str, tokenizer: Any, encoded: list[Any], out_dir: str
) -> tuple[Any, CountingCollator, Any, float, float]:
    from transformers import TrainingArguments

    from rewardkit.data.collate import PaddedPairCollator
    from rewardkit.data.packing import PackedPairCollator
    from rewardkit.models.loading import build_reward_model
    from rewardkit.models.reference import PrecomputedReference, precompute_reference_logps
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import Objective, ObjectiveConfig
    from rewardkit.training.trainer import RewardTrainer

    objective_name = name.split("_")[1]
    ocfg = ObjectiveConfig(objective=objective_name)
    objective = Objective(ocfg)
    model = build_reward_model(
        ModelConfig(name=model_dir, tuning="full", dtype="float32", attn_implementation="sdpa"),
        train_lm_head=objective.needs_logps,
        keep_lm_head=objective.needs_logps,
        head_init=ocfg.default_head_init,
    )
    inner = (
        PackedPairCollator(tokenizer.pad_token_id, row_tokens=settings.row_tokens)
        if name.endswith("packed")
        else PaddedPairCollator(tokenizer.pad_token_id)
    )
    reference, reference_s = None, 0.0
    if objective.needs_logps:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model.to(device)
        started = time.perf_counter()
        with (
            tempfile.TemporaryDirectory() as cache,  # a fresh pass, never a cached one
            torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"),
        ):
            precompute_reference_logps(
                model,
                encoded,
                inner,
                model_name=model_dir,
                dtype="float32",
                batch_size=2 * settings.batch_size,
                device=device,
                cache_dir=cache,
            )
        reference_s = time.perf_counter() - started
        reference = PrecomputedReference()
    collate = CountingCollator(inner, "responses" if objective.needs_logps else "none")
    timer = step_timer()
    args = TrainingArguments(remove_unused_columns=False, label_names=[], **training_kwargs(settings, out_dir))
    started = time.perf_counter()
    trainer = RewardTrainer(
        model=model,
        args=args,
        data_collator=collate,
        train_dataset=encoded,
        processing_class=tokenizer,
        objective=objective,
        reference=reference,
        callbacks=[timer],
    )
    return trainer, collate, timer, time.perf_counter() - started, reference_s


def run_config(name: str, settings: Settings) -> dict[str, Any]:
    from rewardkit.models.loading import load_tokenizer
    from rewardkit.models.registry import resolve_model

    torch.manual_seed(0)
    model_dir = str(resolve_model(settings.model))
    tokenizer = load_tokenizer(model_dir)
    encoded = encoded_pairs(settings, settings.num_pairs, tokenizer)
    reference_s = 0.0
    with tempfile.TemporaryDirectory() as out_dir:
        if name.startswith("trl"):
            trainer, collate, timer, setup_s = run_trl(name, settings, model_dir, tokenizer, encoded, out_dir)
        else:
            trainer, collate, timer, setup_s, reference_s = run_rewardkit(
                name, settings, model_dir, tokenizer, encoded, out_dir
            )
        trainer.train()
    w, s = settings.warmup_steps, settings.timed_steps
    marks = timer.marks
    if len(marks) != w + s + 1 or len(collate.stats) < w + s:
        raise RuntimeError(f"{name}: expected {w + s} steps, timed {len(marks) - 1}, collated {len(collate.stats)}")
    intervals = [b - a for a, b in zip(marks[w:-1], marks[w + 1 :])]
    timed = collate.stats[w : w + s]
    seconds = sum(intervals)
    shape = model_shape(model_dir)
    train_factor = 3.0
    flops = sum(train_factor * forward_flops(shape, st) for st in timed)
    if name == "trl_dpo":  # + the reference model's forward on the same batch
        flops += sum(forward_flops(shape, st) for st in timed)
    pairs = sum(st.pairs for st in timed)
    return {
        "config": name,
        "pairs_per_s": pairs / seconds,
        "pair_tokens_per_s": sum(st.pair_tokens for st in timed) / seconds,
        "grid_tokens_per_s": sum(st.grid_tokens for st in timed) / seconds,
        "step_s": seconds / s,
        "step_s_each": intervals,
        "cpu_step_s": (timer.cpu_marks[-1] - timer.cpu_marks[w]) / s,
        "warmup_s": marks[w] - marks[0],
        "setup_s": setup_s,
        "reference_pass_s": reference_s,
        "flops_per_s": flops / seconds,
        "pairs": pairs,
        "pair_tokens": sum(st.pair_tokens for st in timed),
        "grid_tokens": sum(st.grid_tokens for st in timed),
        "batch_pair_tokens": [st.pair_tokens for st in collate.stats[: w + s]],
        "peak_memory_gib": peak_memory_gib(),
    }


# ---- equality of packed and padded rows ---------------------------------------------------------------


def max_diffs(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], losses_a: dict[str, float], losses_b: dict[str, float]
) -> dict[str, float]:
    logp_excess = ((a["logps"] - b["logps"]).abs() - LOGP_RTOL * a["logps"].abs()).max().item()
    return {
        "rewards": (a["rewards"] - b["rewards"]).abs().max().item(),
        "logps": (a["logps"] - b["logps"]).abs().max().item(),
        "logps_over_rel_tol": logp_excess,
        "losses": max(abs(losses_a[k] - losses_b[k]) for k in losses_a),
    }


def run_equality(settings: Settings) -> dict[str, Any]:
    from rewardkit.data.collate import PaddedPairCollator
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.packing import PackedPairCollator
    from rewardkit.data.suite import build_suite
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.models.registry import resolve_model
    from rewardkit.models.reward_model import ModelConfig
    from rewardkit.objectives.objective import Objective, ObjectiveConfig

    torch.manual_seed(0)
    model_dir = str(resolve_model(settings.model))
    tokenizer = load_tokenizer(model_dir)
    model = build_reward_model(ModelConfig(name=model_dir, tuning="full", dtype="float32"), keep_lm_head=True).eval()
    sets = {
        "hh-harmless": encoded_pairs(settings, settings.equal_pairs, tokenizer),
        "suite": PairEncoder(tokenizer, EncodingConfig(max_length=settings.max_length)).encode_all(
            build_suite(1, seed=0)
        ),
    }
    objectives = {k: Objective(ObjectiveConfig(objective=k)) for k in ("bt", "haf", "dpo")}
    report: dict[str, Any] = {}
    for set_name, encoded in sets.items():
        g = torch.Generator().manual_seed(1)
        ref = -200 * torch.rand(2 * len(encoded), generator=g)
        outs, losses = [], []
        for collate in (
            PaddedPairCollator(tokenizer.pad_token_id),
            PackedPairCollator(tokenizer.pad_token_id, row_tokens=settings.row_tokens),
        ):
            batch = collate(encoded)
            with torch.no_grad():
                out = model(**batch, need_rewards=True, need_logps=True)
            outs.append(out)
            losses.append({k: o(out["rewards"], out["logps"], ref, batch).loss.item() for k, o in objectives.items()})
        diffs = max_diffs(outs[0], outs[1], losses[0], losses[1])
        diffs["equal"] = (
            diffs["rewards"] <= REWARD_TOL and diffs["logps_over_rel_tol"] <= LOGP_ATOL and diffs["losses"] <= LOSS_TOL
        )
        diffs["pairs"] = len(encoded)
        report[set_name] = diffs
    report["packed_equal"] = all(r["equal"] for r in report.values() if isinstance(r, dict))
    return report


# ---- the parent: subprocesses, table, JSON ----------------------------------------------------------


def matmul_peak_flops(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """Best rate of a large square matmul (the machine's practical matrix-multiply peak)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2.0 * size**3 / best


def in_subprocess(task: str, settings: Settings, timeout: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", task, "--settings", json.dumps(asdict(settings))]
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", TRANSFORMERS_VERBOSITY="error")
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise RuntimeError(f"{task} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["wall_s"] = time.perf_counter() - started
    return result


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def summary(results: dict[str, dict[str, Any]], equality: dict[str, Any]) -> dict[str, Any]:
    def get(name: str, key: str) -> float | None:
        return results.get(name, {}).get(key)

    return {
        "bt_vs_trl": ratio(get("rk_bt_packed", "pairs_per_s"), get("trl_rm", "pairs_per_s")),
        "bt_padded_vs_trl": ratio(get("rk_bt_padded", "pairs_per_s"), get("trl_rm", "pairs_per_s")),
        "dpo_vs_trl": ratio(get("rk_dpo_packed", "pairs_per_s"), get("trl_dpo", "pairs_per_s")),
        "dpo_vs_trl_precomputed": ratio(get("rk_dpo_packed", "pairs_per_s"), get("trl_dpo_precomp", "pairs_per_s")),
        "haf_over_bt": ratio(get("rk_haf_packed", "step_s"), get("rk_bt_packed", "step_s")),
        "bt_vs_trl_cpu_time": ratio(get("trl_rm", "cpu_step_s"), get("rk_bt_packed", "cpu_step_s")),
        "dpo_vs_trl_cpu_time": ratio(get("trl_dpo", "cpu_step_s"), get("rk_dpo_packed", "cpu_step_s")),
        "packed_equal": bool(equality.get("packed_equal")),
    }


def table(results: dict[str, dict[str, Any]], peak: float) -> str:
    head = (
        "| config | pairs/s | pair tok/s | grid tok/s | step s | CPU s/step | ref pass s | GFLOP/s "
        "| % of matmul peak | peak mem GiB |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['pairs_per_s']:.3f} | {r['pair_tokens_per_s']:.0f} | "
            f"{r['grid_tokens_per_s']:.0f} | {r['step_s']:.1f} | {r['cpu_step_s']:.1f} | "
            f"{r['reference_pass_s']:.1f} | "
            f"{r['flops_per_s'] / 1e9:.1f} | {100 * r['flops_per_s'] / peak:.0f} | "
            f"{r['peak_memory_gib']:.2f} |"
        )
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def tiny_model(tmp: str) -> str:
    """A small random Llama (smoke runs: the whole benchmark in a minute or two)."""
    from rewardkit.testing.tiny import save_tiny_model

    return str(save_tiny_model(Path(tmp) / "tiny", layers=2, hidden=64))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed steps, no TRL-precomputed DPO")
    parser.add_argument("--model", default=Settings.model, help="alias, local directory, or 'tiny' (smoke run)")
    parser.add_argument("--max-length", type=int, default=Settings.max_length)
    parser.add_argument("--batch-size", type=int, default=Settings.batch_size)
    parser.add_argument("--warmup-steps", type=int, default=None)
    parser.add_argument("--timed-steps", type=int, default=None)
    parser.add_argument("--row-tokens", type=int, default=Settings.row_tokens)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=None)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the configurations round-robin this many times and keep each one's fastest run "
        "(on a shared machine: less noise from other load)",
    )
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per configuration")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--settings", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:  # inside a subprocess: one configuration, or the equality check
        settings = Settings(**json.loads(args.settings))
        result = run_equality(settings) if args.worker == "equality" else run_config(args.worker, settings)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    settings = Settings(
        model=args.model,
        max_length=args.max_length,
        batch_size=args.batch_size,
        warmup_steps=args.warmup_steps or (1 if args.quick else 2),
        timed_steps=args.timed_steps or (2 if args.quick else 8),
        row_tokens=args.row_tokens,
        equal_pairs=4 if args.quick else 8,
    )
    configs = args.configs or (QUICK_CONFIGS if args.quick else CONFIGS)
    out = args.out or RESULTS / ("throughput_quick.json" if args.quick else "throughput.json")
    cuda = torch.cuda.is_available()
    peak_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "tiny":
            settings.model = tiny_model(tmp)
        peak = matmul_peak_flops(peak_dtype)
        print(
            f"matmul peak ({peak_dtype}): {peak / 1e9:.1f} GFLOP/s; {settings.num_pairs} pairs, "
            f"batch {settings.batch_size}, max length {settings.max_length}",
            flush=True,
        )
        results: dict[str, dict[str, Any]] = {}
        for _ in range(args.rounds):
            for name in configs:
                r = in_subprocess(name, settings, args.timeout)
                print(
                    f"  {name:16s} {r['pairs_per_s']:.3f} pairs/s  step {r['step_s']:.1f} s  "
                    f"(wall {r['wall_s']:.0f} s)",
                    flush=True,
                )
                earlier = results.get(name)
                r["round_step_s"] = (earlier["round_step_s"] if earlier else []) + [r["step_s"]]
                if earlier is None or r["step_s"] < earlier["step_s"]:
                    results[name] = r
                else:
                    earlier["round_step_s"] = r["round_step_s"]
        equality = in_subprocess("equality", settings, args.timeout)
    settings.model = args.model
    sequences = {tuple(r["batch_pair_tokens"]) for r in results.values()}
    verdict = summary(results, equality)
    print()
    print(table(results, peak))
    print()
    print("packed vs padded (max abs differences):")
    for set_name, d in equality.items():
        if isinstance(d, dict):
            print(
                f"  {set_name}: {d['pairs']} pairs, rewards {d['rewards']:.2e}, log-probs {d['logps']:.2e}, "
                f"losses {d['losses']:.2e} -> {'equal' if d['equal'] else 'DIFFERENT'}"
            )
    print(f"same batches in every configuration: {len(sequences) == 1}")
    print("ratios: " + ", ".join(f"{k}={fmt(v)}" for k, v in verdict.items() if k != "packed_equal"))
    report = {
        "settings": asdict(settings),
        "quick": args.quick,
        "rounds": args.rounds,
        "matmul_peak_flops": peak,
        "peak_dtype": str(peak_dtype),
        "device": "cuda" if cuda else "cpu",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if cuda else None,
        },
        "same_batches": len(sequences) == 1,
        "results": results,
        "equality": equality,
        "summary": verdict,
    }
    write_json_atomic(out, report)
    print(f"wrote {out}")
    print(
        f"throughput bt_vs_trl={fmt(verdict['bt_vs_trl'])} dpo_vs_trl={fmt(verdict['dpo_vs_trl'])} "
        f"haf_over_bt={fmt(verdict['haf_over_bt'])} packed_equal={str(verdict['packed_equal']).lower()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
