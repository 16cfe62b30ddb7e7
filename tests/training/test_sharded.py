"""Sharded engines (FSDP2, DeepSpeed ZeRO-2/3) on 2 CPU processes against one process with the same global batch.

Each engine trains BT and HaF (reference precomputed, a frozen copy placed beside the sharded model, and with
LoRA the adapters switched off: slow) on the tiny model (tied embeddings: HaF's LM head is the embedding
matrix): the per-step loss and metrics, the validation metrics during training and the before/after evaluation
(every pair once: both splits are uneven across the processes) match one process; the export loads with
AutoModelForSequenceClassification (and the HaF policy with AutoModelForCausalLM) and scores like the one-process
export; `--resume` from the sharded run's mid-run checkpoint ends with the same weights as the uninterrupted run.

FSDP2 runs in the default test run (configs/accelerate/cpu_fsdp2_2proc.yaml); DeepSpeed is an optional dependency
and its runs are slow (`pytest -m slow tests/training/test_sharded.py`). Runs are shared between tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from rewardkit.training.run import prepare_data, run_training

from .launch import PROCESSES, launch_two_processes, run_config, step_logs, write_pairs

GLOBAL_BATCH, STEPS, SAVE_STEPS = 8, 4, 2
PAIRS, TRAIN, VALIDATION, HELDOUT = 54, 32, 11, 11  # one epoch of 4 global batches; odd eval splits
ENGINES = {  # launch config, what only this engine writes into a checkpoint (proof that it ran, not DDP)
    "fsdp": ("cpu_fsdp2_2proc.yaml", "pytorch_model_fsdp.bin"),
    "zero2": ("cpu_zero2_2proc.yaml", f"global_step{STEPS}"),
    "zero3": ("cpu_zero3_2proc.yaml", f"global_step{STEPS}"),
}
CASES = {
    "bt": ("bt", "precomputed"),
    "haf-precomputed": ("haf", "precomputed"),
    "haf-copy": ("haf", "copy"),
    "haf-lora": ("haf", "adapter"),
}  # LoRA, its reference the adapters switched off (slow everywhere)
LOGGED = (
    "loss",
    "grad_norm",
    "accuracy",
    "margin",
    "reward_mean",
    "reward_std",
    "loss_policy",
    "implicit_accuracy",
    "implicit_margin",
    "logps_chosen",
    "logps_rejected",
)
EVAL_METRICS = ("accuracy", "margin_mean", "margin_std", "reward_mean", "implicit_accuracy")
TOL = 1e-5


def engine(name: str) -> pytest.param:
    return pytest.param(name, id=name, marks=[] if name == "fsdp" else [pytest.mark.slow])


ALL_ENGINES = [engine(e) for e in ENGINES]
ALL_CASES = [pytest.param(c, id=c, marks=[pytest.mark.slow] if c == "haf-lora" else []) for c in CASES]


class Runs:
    """Training runs, each made once per module: one process, and each engine on 2 processes."""

    def __init__(self, root: Path, model_dir: Path, data: Path):
        self.root, self.model_dir, self.data = root, model_dir, data
        self.done: dict[tuple[str, str], tuple[Path, dict]] = {}

    def config(self, out: Path, case: str, batch_size: int):
        objective, reference = CASES[case]
        return run_config(
            self.model_dir,
            self.data,
            out,
            objective,
            batch_size,
            steps=STEPS,
            reference=reference,
            tuning="lora" if reference == "adapter" else "full",
            heldout_fraction=0.2,
            validation_fraction=0.25,
            eval_steps=SAVE_STEPS,
            save_steps=SAVE_STEPS,
        )

    def one(self, case: str) -> tuple[Path, dict]:
        if ("one", case) not in self.done:
            out = self.root / f"one-{case}"
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("REWARDKIT_HOME", str(self.root / f"home-{case}"))  # its own reference log-prob cache
                self.done["one", case] = out, run_training(self.config(out, case, GLOBAL_BATCH))
        return self.done["one", case]

    def sharded(self, name: str, case: str) -> tuple[Path, dict]:
        if name != "fsdp":
            pytest.importorskip("deepspeed", reason="DeepSpeed is optional: pip install rewardkit[deepspeed]")
        if (name, case) not in self.done:
            self.done[name, case] = None  # a failed launch fails its first test; the others say so, not relaunch
            workdir = self.root / f"{name}-{case}"
            workdir.mkdir()
            out = workdir / "run"
            results = launch_two_processes(self.config(out, case, GLOBAL_BATCH // PROCESSES), workdir, ENGINES[name][0])
            self.done[name, case] = out, results
        if self.done[name, case] is None:
            pytest.fail(f"the {name} {case} run failed (see the first test that used it)")
        return self.done[name, case]


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("sharded")
    runs = Runs(root, tiny_model_dir, write_pairs(root / "pairs.jsonl", PAIRS))
    data = prepare_data(runs.config(root / "unused", "bt", GLOBAL_BATCH))
    assert (len(data.train), len(data.validation), len(data.eval_sets["heldout"])) == (TRAIN, VALIDATION, HELDOUT)
    return runs


def assert_logs_match(one: list[dict], sharded: list[dict], keys: tuple[str, ...]) -> None:
    assert [e["step"] for e in sharded] == [e["step"] for e in one]
    for a, b in zip(one, sharded, strict=True):
        for key in keys:
            assert (key in a) == (key in b), (key, a["step"])
            if key in a:
                assert b[key] == pytest.approx(a[key], abs=TOL, rel=TOL), (key, a["step"], a[key], b[key])


@pytest.mark.parametrize("case", ALL_CASES)
@pytest.mark.parametrize("name", ALL_ENGINES)
def test_sharded_run_matches_one_process(runs, name, case):
    _, one = runs.one(case)
    out, sharded = runs.sharded(name, case)

    # the engine really ran (accelerate falls back to DDP on CPU unless rewardkit sets it up)
    assert (out / f"checkpoint-{STEPS}" / ENGINES[name][1]).exists()

    # training: the same global loss and metrics at every step (metrics gathered once per step)
    assert [e["step"] for e in step_logs(sharded)] == list(range(1, STEPS + 1))
    assert_logs_match(step_logs(one), step_logs(sharded), LOGGED)
    # validation during training: 11 pairs in batches of 4 per process, the padding of the last batch dropped
    evals = [e for e in sharded["log_history"] if "eval_loss" in e]
    assert [e["step"] for e in evals] == [SAVE_STEPS, STEPS]
    # (not eval_loss: Trainer averages batch means, and the padded last batch of one process has a repeated pair)
    assert_logs_match(
        [e for e in one["log_history"] if "eval_loss" in e],
        evals,
        (
            "eval_loss_reward",
            "eval_loss_policy",
            "eval_accuracy",
            "eval_margin",
            "eval_reward_mean",
            "eval_implicit_accuracy",
            "eval_implicit_margin",
        ),
    )

    # evaluation before and after: every held-out pair exactly once, the same numbers
    for phase in ("before", "after"):
        m1, m2 = one[phase]["heldout"], sharded[phase]["heldout"]
        assert m1["pairs"] == m2["pairs"] == HELDOUT
        for key in EVAL_METRICS:
            assert (key in m1) == (key in m2), (phase, key)
            if key in m1:
                assert m2[key] == pytest.approx(m1[key], abs=TOL, rel=TOL), (phase, key)
    if CASES[case][0] == "haf":
        assert "implicit_accuracy" in sharded["after"]["heldout"]

    # written once: the checkpoints, one export, one set of reports; no staging leftovers
    assert not list(out.glob(".staging/*"))
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        "config.yaml",
        "results.json",
        "eval.md",
        "eval.json",
        "export",
        f"checkpoint-{SAVE_STEPS}",
        f"checkpoint-{STEPS}",
    }


def scored_texts(pairs_file: Path, tokenizer) -> list[str]:
    """Chosen and rejected responses of a few pairs, rendered as the model card says (chat template, EOS)."""
    rows = [json.loads(line) for line in pairs_file.read_text().splitlines()[:6]]
    prompt = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": r["prompt"]}], tokenize=False, add_generation_prompt=True
        )
        for r in rows
    ]
    return [p + r[key] + tokenizer.eos_token for p, r in zip(prompt, rows) for key in ("chosen", "rejected")]


def loaded(auto_cls, path: Path):
    model, info = auto_cls.from_pretrained(path, output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), (path, info)
    return model.eval()


@torch.no_grad()
def export_rewards(export: Path, texts: list[str]) -> torch.Tensor:
    tok = AutoTokenizer.from_pretrained(export)
    batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    return loaded(AutoModelForSequenceClassification, export)(**batch).logits[:, 0]


@torch.no_grad()
def policy_logps(policy: Path, texts: list[str]) -> torch.Tensor:
    """Sum of token log-probs of each text under the exported policy."""
    tok = AutoTokenizer.from_pretrained(policy)
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    out = []
    model = loaded(AutoModelForCausalLM, policy)
    for seq in ids:
        x = torch.tensor([seq])
        logps = torch.log_softmax(model(x).logits[0, :-1].float(), -1)
        out.append(logps.gather(-1, x[0, 1:, None]).sum())
    return torch.stack(out)


@pytest.mark.parametrize("case", ALL_CASES)
@pytest.mark.parametrize("name", ALL_ENGINES)
def test_sharded_export_loads_and_scores_like_one_process(runs, name, case):
    one_dir, _ = runs.one(case)
    out, _ = runs.sharded(name, case)
    texts = scored_texts(runs.data, AutoTokenizer.from_pretrained(one_dir / "export"))
    expected, got = export_rewards(one_dir / "export", texts), export_rewards(out / "export", texts)
    if CASES[case][0] == "bt":
        assert expected.std() > 0.1  # trained: the rewards differ between responses
    torch.testing.assert_close(got, expected, atol=TOL, rtol=TOL)
    if CASES[case][0] == "haf":  # the policy (the LM head tied to the embeddings) and its implicit reward
        assert (out / "export" / "policy").is_dir()
        torch.testing.assert_close(
            policy_logps(out / "export" / "policy", texts),
            policy_logps(one_dir / "export" / "policy", texts),
            atol=1e-4,
            rtol=TOL,
        )


@pytest.mark.parametrize("name", ALL_ENGINES)
def test_resume_from_a_sharded_checkpoint_ends_with_the_same_weights(runs, name):
    case = "haf-copy"  # the most state: a sharded frozen reference, the tied LM head, two loss terms
    out, full = runs.sharded(name, case)
    workdir = runs.root / f"{name}-{case}-resumed"
    resumed_out = workdir / "run"
    shutil.copytree(out / f"checkpoint-{SAVE_STEPS}", resumed_out / f"checkpoint-{SAVE_STEPS}")
    resumed = launch_two_processes(
        runs.config(resumed_out, case, GLOBAL_BATCH // PROCESSES), workdir, ENGINES[name][0], extra_args=("--resume",)
    )

    assert_logs_match(step_logs(full), step_logs(resumed), LOGGED)
    assert resumed["after"]["heldout"]["pairs"] == HELDOUT
    for file in ("model.safetensors", "policy/model.safetensors"):
        w_full, w_resumed = load_file(str(out / "export" / file)), load_file(str(resumed_out / "export" / file))
        assert w_full.keys() == w_resumed.keys()
        for key in w_full:
            torch.testing.assert_close(w_resumed[key], w_full[key], atol=1e-6, rtol=1e-6, msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ENGINES))
def test_select_best_reloads_the_best_checkpoint_with_the_engine(runs, name):
    """`training.select_best` reloads the best validation checkpoint after training through the engine's own
    loader. BT reaches validation accuracy 1 at step 2 and keeps it; ties keep the first, so step 2 is the best."""
    if name != "fsdp":
        pytest.importorskip("deepspeed", reason="DeepSpeed is optional: pip install rewardkit[deepspeed]")
    workdir = runs.root / f"{name}-select-best"
    workdir.mkdir()
    out = workdir / "run"
    cfg = runs.config(out, "bt", GLOBAL_BATCH // PROCESSES)
    cfg.training.select_best = True
    results = launch_two_processes(cfg, workdir, ENGINES[name][0])

    assert results["selected"]["step"] == SAVE_STEPS
    best, last = (load_file(str(out / f"checkpoint-{step}" / "model.safetensors")) for step in (SAVE_STEPS, STEPS))
    exported = {
        k.replace("model.", "backbone.", 1): v for k, v in load_file(str(out / "export" / "model.safetensors")).items()
    }
    assert exported.keys() == best.keys()
    assert not torch.equal(best["score.weight"], last["score.weight"])  # the reload is visible
    for key in best:
        torch.testing.assert_close(exported[key], best[key], msg=key)
