"""The engine a launch asks for is the one that runs, and the DeepSpeed ZeRO-3 code paths without DeepSpeed.

DeepSpeed is optional (its real runs are the slow tests of test_sharded.py), so the ZeRO-3 paths are also
checked here with the `deepspeed` module replaced at its seam: the export's weight gathering (`full_weights`)
and the frozen reference copy (`RewardTrainer._prepare_frozen` → TRL's `prepare_deepspeed`).
"""

from __future__ import annotations

import importlib.machinery
import sys
import types
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch
from accelerate.utils import DistributedType
from transformers import AutoModelForSequenceClassification
from transformers.integrations.deepspeed import (
    set_hf_deepspeed_config,
    unset_hf_deepspeed_config,
)

from rewardkit.models.export import export_model
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reference import PrecomputedReference
from rewardkit.models.reward_model import ModelConfig
from rewardkit.training.config import RunConfig
from rewardkit.training.engines import (
    check_engine,
    enable_fsdp_on_cpu,
    requested_engine,
)
from rewardkit.training.run import evaluation_reference, full_weights
from rewardkit.training.trainer import RewardTrainer


def launched_with(monkeypatch, **flags: bool) -> None:
    for name in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_CPU"):
        monkeypatch.delenv(name, raising=False)
    for name, on in flags.items():
        monkeypatch.setenv(f"ACCELERATE_USE_{name.upper()}", "true" if on else "false")


def accelerator(kind: DistributedType) -> SimpleNamespace:
    return SimpleNamespace(distributed_type=kind)


def test_check_engine_stops_a_run_that_would_train_with_another_engine(monkeypatch):
    launched_with(monkeypatch, deepspeed=True, cpu=True)
    assert requested_engine() == "deepspeed"
    with pytest.raises(RuntimeError, match="asked for deepspeed, but accelerate would run MULTI_CPU.*without --cpu"):
        check_engine(accelerator(DistributedType.MULTI_CPU))
    check_engine(accelerator(DistributedType.DEEPSPEED))

    launched_with(monkeypatch, fsdp=True)
    with pytest.raises(RuntimeError, match="asked for fsdp, but accelerate would run MULTI_GPU"):
        check_engine(accelerator(DistributedType.MULTI_GPU))
    check_engine(accelerator(DistributedType.FSDP))

    launched_with(monkeypatch)  # DDP or one process: nothing asked, nothing checked
    assert requested_engine() is None
    check_engine(accelerator(DistributedType.MULTI_CPU))
    check_engine(accelerator(DistributedType.NO))


def test_enable_fsdp_on_cpu_leaves_runs_without_fsdp_alone(monkeypatch):
    launched_with(monkeypatch, deepspeed=True)
    args = SimpleNamespace(device=torch.device("cpu"))
    assert enable_fsdp_on_cpu(args) is False
    launched_with(monkeypatch, fsdp=True)  # one process: accelerate's state is not MULTI_CPU
    assert enable_fsdp_on_cpu(args) is False


class FakeZero:
    """deepspeed.zero as the ZeRO-3 code paths use it: records GatheredParameters, refuses zero.Init."""

    def __init__(self):
        self.gathered: list[tuple[list, object]] = []
        self.inside = False

    @contextmanager
    def GatheredParameters(self, params, modifier_rank=None):
        self.gathered.append((params, modifier_rank))
        self.inside = True
        try:
            yield
        finally:
            self.inside = False

    def Init(self, **kwargs):
        raise AssertionError("zero.Init partitions a new model: collective, it hangs when only one process exports")


@pytest.fixture
def fake_deepspeed(monkeypatch):
    module = types.ModuleType("deepspeed")
    module.__spec__ = importlib.machinery.ModuleSpec("deepspeed", None)
    module.DeepSpeedEngine = type("DeepSpeedEngine", (), {})  # what accelerate unwraps models from
    module.zero = FakeZero()
    module.initialized = []

    def initialize(model, config):
        module.initialized.append((model, config))
        return SimpleNamespace(model=model, eval=lambda: None), None, None, None

    module.initialize = initialize
    monkeypatch.setitem(sys.modules, "deepspeed", module)
    return module


class Zero3Config:  # what transformers consults to decide whether new models go through zero.Init
    def __init__(self):
        self.config = {"zero_optimization": {"stage": 3}}

    def is_zero3(self) -> bool:
        return True


def zero_trainer(model: torch.nn.Module, stage: int) -> SimpleNamespace:
    plugin = SimpleNamespace(
        zero_stage=stage,
        deepspeed_config={
            "zero_optimization": {"stage": stage, "offload_optimizer": {"device": "cpu"}},
            "optimizer": {"type": "AdamW"},
            "train_micro_batch_size_per_gpu": 4,
        },
    )
    acc = SimpleNamespace(state=SimpleNamespace(deepspeed_plugin=plugin), unwrap_model=lambda m: m)
    return SimpleNamespace(model=model, accelerator=acc, is_deepspeed_enabled=True, is_fsdp_enabled=False)


def test_zero3_export_and_evaluation_reference_build_no_partitioned_model(tiny_model_dir, tmp_path, fake_deepspeed):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    hf_config = Zero3Config()
    set_hf_deepspeed_config(hf_config)  # as the Trainer does under ZeRO-3: transformers would zero.Init new models
    try:
        with full_weights(zero_trainer(model, stage=3), rebuild=lambda: pytest.fail("ZeRO-3 rebuilds nothing")) as full:
            assert full is model and fake_deepspeed.zero.inside
            export_model(full, load_tokenizer(str(tiny_model_dir)), tmp_path / "export", metadata={})
        # after training, precomputed reference values cover no eval pair: the starting model is loaded whole
        cfg = RunConfig(model=ModelConfig(name=str(tiny_model_dir), tuning="full"))
        reference = evaluation_reference(cfg, PrecomputedReference(), model)
        loaded = dict(reference.frozen.backbone.named_parameters())  # whole, with the checkpoint's weights
        for name, param in model.backbone.named_parameters():
            torch.testing.assert_close(loaded[name], param, msg=name)
    finally:
        unset_hf_deepspeed_config()
    [(params, modifier_rank)] = fake_deepspeed.zero.gathered
    assert [id(p) for p in params] == [id(p) for p in model.parameters()] and modifier_rank is None
    assert not fake_deepspeed.zero.inside
    exported = AutoModelForSequenceClassification.from_pretrained(tmp_path / "export")
    torch.testing.assert_close(exported.score.weight, model.score.weight)


def test_zero2_export_gathers_nothing(tiny_model_dir, fake_deepspeed):
    model = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    with full_weights(zero_trainer(model, stage=2), rebuild=lambda: pytest.fail("rebuilt")) as full:
        assert full is model
    assert fake_deepspeed.zero.gathered == []


@pytest.mark.parametrize("stage", [2, 3])
def test_zero_frozen_reference_is_prepared_like_trl_does(tiny_model_dir, fake_deepspeed, stage):
    """ZeRO-3 shards the frozen copy with the model (stage 3, sized by the hidden size); ZeRO-1/2 keep a whole
    inference copy per process (stage 0); no optimizer: the copy does not train."""
    frozen = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    trainer = zero_trainer(frozen, stage)
    engine = RewardTrainer._prepare_frozen(trainer, frozen)
    [(model, config)] = fake_deepspeed.initialized
    assert model is frozen and engine.model is frozen
    assert config["zero_optimization"]["stage"] == (3 if stage == 3 else 0)
    assert "optimizer" not in config and "offload_optimizer" not in config["zero_optimization"]
    hidden = frozen.config.hidden_size
    if stage == 3:
        assert config["zero_optimization.stage3_param_persistence_threshold"] == 10 * hidden
    assert trainer.accelerator.state.deepspeed_plugin.deepspeed_config["zero_optimization"]["stage"] == stage
