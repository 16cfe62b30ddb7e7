"""Shared by the multi-process tests: arithmetic pairs, run configs, and `accelerate launch` on 2 CPU processes."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

from rewardkit.config import save_config
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import ObjectiveConfig
from rewardkit.training.config import DataConfig, RunConfig, TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
LAUNCH_CONFIGS = REPO_ROOT / "configs" / "accelerate"
PROCESSES = 2


def write_pairs(path: Path, n: int) -> Path:
    """`n` arithmetic pairs of varied length (unique prompts), as JSON lines."""
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        rows.append(
            {
                "prompt": f"What is {a}+{b}?" + " Please." * rng.randint(0, 3),
                "chosen": f"{a + b}.",
                "rejected": f"Maybe {a * b + 7}" + ", who knows" * rng.randint(1, 3),
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def run_config(
    model_dir: Path,
    data: Path,
    out: Path,
    objective: str,
    batch_size: int,
    *,
    steps: int,
    reference: str = "precomputed",
    tuning: str = "full",
    heldout_fraction: float = 0.25,
    validation_fraction: float = 0.0,
    **training: object,
) -> RunConfig:
    """A small run (full fine-tuning by default); `training` overrides TrainConfig fields (e.g. eval_steps)."""
    return RunConfig(
        model=ModelConfig(name=str(model_dir), tuning=tuning),
        data=DataConfig(
            train=[str(data)],
            heldout_fraction=heldout_fraction,
            validation_fraction=validation_fraction,
            max_length=48,
            group_by_length=objective == "bt",
        ),  # BT: PairBatchSampler; HaF: Trainer's
        objective=ObjectiveConfig(objective=objective, reference=reference),
        training=TrainConfig(
            **{
                "output_dir": str(out),
                "max_steps": steps,
                "batch_size": batch_size,
                "eval_batch_size": 4,
                "learning_rate": 3e-3,
                "warmup_ratio": 0.0,
                "logging_steps": 1,
                "save_steps": steps,
                "report_to": [],
                "seed": 7,
                **training,
            }
        ),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two_processes(
    cfg: RunConfig, workdir: Path, launch_config: str = "cpu_2proc.yaml", extra_args: tuple[str, ...] = ()
) -> dict:
    """`accelerate launch` the CLI on 2 CPU processes with configs/accelerate/`launch_config`; returns the written
    results.json. Each process group gets its own port; the reference cache lives under `workdir`."""
    config_file = workdir / "run.yaml"
    save_config(cfg, config_file)
    env = dict(os.environ, REWARDKIT_HOME=str(workdir / "home"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(LAUNCH_CONFIGS / launch_config),
        "--num_processes",
        str(PROCESSES),
        "--main_process_port",
        str(free_port()),
        "-m",
        "rewardkit.cli.main",
        "train",
        "--config",
        str(config_file),
        *extra_args,
    ]
    proc = subprocess.run(cmd, env=env, cwd=workdir, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert proc.stdout.count("exported to") == 1, proc.stdout  # the export is written by one process
    return json.loads((Path(cfg.training.output_dir) / "results.json").read_text())


def step_logs(results: dict) -> list[dict]:
    return [e for e in results["log_history"] if "loss" in e]
