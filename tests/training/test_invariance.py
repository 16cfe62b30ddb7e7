"""Invariances of a training step (tiny models): gradient accumulation equals one large batch; what each tuning
scope trains changes and everything else stays bit-identical."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import rewardkit.training.run as run_module
from rewardkit.models.reward_model import ModelConfig
from rewardkit.objectives.objective import ObjectiveConfig
from rewardkit.testing.tiny import arithmetic_rows, write_jsonl
from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
from rewardkit.training.run import run_training


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("data") / "toy.jsonl", arithmetic_rows(48, seed=5))


def config(model_dir, data, out, *, objective="bt", tuning="full", top_layers=1, packing=True, **train):
    t = dict(
        output_dir=str(out),
        max_steps=3,
        batch_size=8,
        learning_rate=3e-3,
        logging_steps=1,
        save_steps=1000,
        report_to=[],
        eval_before=False,
        warmup_ratio=0.0,
    )
    t.update(train)
    return RunConfig(
        model=ModelConfig(name=str(model_dir), tuning=tuning, top_layers=top_layers, lora_r=4),
        data=DataConfig(train=[str(data)], heldout_fraction=0.0, max_length=48, packing=packing),
        objective=ObjectiveConfig(objective=objective),
        training=TrainConfig(**t),
    )


def step_losses(results):
    return [e["loss"] for e in results["log_history"] if "loss" in e]


@pytest.mark.parametrize("objective", ["bt", "haf"])
def test_accumulation_equals_one_large_batch(tiny_plain_model_dir, toy_data, tmp_path, objective):
    """8 pairs x 1 step == 4 pairs x 2 accumulation steps: same losses, same weights (reward head, LM head)."""
    one = run_training(config(tiny_plain_model_dir, toy_data, tmp_path / "one", objective=objective))
    acc = run_training(
        config(
            tiny_plain_model_dir,
            toy_data,
            tmp_path / "acc",
            objective=objective,
            batch_size=4,
            gradient_accumulation_steps=2,
        )
    )
    assert len(step_losses(one)) == 3
    assert step_losses(acc) == pytest.approx(step_losses(one), abs=1e-5)
    for sub in ("", "policy/") if objective == "haf" else ("",):
        a = load_file(str(tmp_path / "one" / "export" / sub / "model.safetensors"))
        b = load_file(str(tmp_path / "acc" / "export" / sub / "model.safetensors"))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.allclose(a[key], b[key], atol=1e-5), key
        start = load_file(str(tiny_plain_model_dir / "model.safetensors"))
        assert any(not torch.equal(a[k], start[k]) for k in start if k in a), "the run did not train"


def snapshot_training(monkeypatch):
    """Patch run_training's model builder and export to record the weights before and after training."""
    seen = {}
    build = run_module.build_reward_model

    def recording_build(*args, **kwargs):
        model = build(*args, **kwargs)
        seen["model"] = model
        seen["before"] = {k: v.detach().clone() for k, v in model.named_parameters()}
        seen["trainable"] = {k for k, v in model.named_parameters() if v.requires_grad}
        return model

    monkeypatch.setattr(run_module, "build_reward_model", recording_build)
    return seen


@pytest.mark.parametrize(
    "tuning,objective", [("full", "bt"), ("lora", "haf"), ("top_layers", "haf"), ("top_layers", "bt")]
)
def test_trainable_parameters_change_and_frozen_ones_do_not(
    tiny_plain_model_dir, toy_data, tmp_path, monkeypatch, tuning, objective
):
    seen = snapshot_training(monkeypatch)
    run_training(
        config(
            tiny_plain_model_dir,
            toy_data,
            tmp_path / tuning,
            objective=objective,
            tuning=tuning,
            max_steps=2,
            export=False,
        )
    )
    after = dict(seen["model"].named_parameters())
    changed = {k for k, v in after.items() if not torch.equal(v.detach(), seen["before"][k])}
    trainable = seen["trainable"]
    assert changed == {k for k in trainable if k in changed}, f"frozen weights moved: {sorted(changed - trainable)}"
    assert "score.weight" in changed
    # every trainable tensor moves, except LoRA's A matrices in the first step (B starts at zero, so A gets no grad)
    unchanged = sorted(k for k in trainable - changed if "lora_A" not in k)
    assert not unchanged, f"trainable weights did not move: {unchanged}"
    if tuning == "full":
        assert trainable == set(after)
    elif tuning == "lora":
        assert all("lora_" in k or k.startswith(("score.", "lm_head.")) for k in trainable)
        assert any("lora_B" in k for k in changed)
        assert "lm_head.weight" in changed  # the untied LM head trains with the policy term
    else:  # top_layers=1 of 2: layer 1, the final norm, the heads; embeddings and layer 0 frozen
        layers = {k.split("layers.")[1].split(".")[0] for k in trainable if "layers." in k}
        assert layers == {"1"}
        assert not any("embed_tokens" in k for k in trainable)
        assert any(k.endswith("norm.weight") and "layers." not in k for k in trainable)
        assert ("lm_head.weight" in trainable) == (objective == "haf")


def test_uneven_micro_batches_weigh_every_pair_the_same(tiny_model_dir, toy_data, tmp_path):
    """Token budgets make the micro-batches of a step uneven (here 3 + 5 pairs): the accumulated gradient is the
    gradient of the mean over the step's 8 pairs, not the mean of the two micro-batch means."""
    from rewardkit.data.encoding import EncodingConfig, PairEncoder
    from rewardkit.data.packing import pair_collator
    from rewardkit.models.loading import build_reward_model, load_tokenizer
    from rewardkit.objectives.objective import Objective
    from rewardkit.training.run import prepare_data, training_arguments
    from rewardkit.training.trainer import RewardTrainer

    cfg = config(tiny_model_dir, toy_data, tmp_path, gradient_accumulation_steps=2)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    pairs = PairEncoder(tokenizer, EncodingConfig(max_length=48)).encode_all(prepare_data(cfg).train[:8])
    torch.manual_seed(0)
    model = build_reward_model(cfg.model)
    collate = pair_collator(tokenizer.pad_token_id, True, 1024)
    trainer = RewardTrainer(
        model=model,
        args=training_arguments(cfg, False, "accuracy"),
        data_collator=collate,
        train_dataset=pairs,
        processing_class=tokenizer,
        objective=Objective(cfg.objective),
    )
    trainer.current_gradient_accumulation_steps = 2
    parts, whole = [collate(pairs[:3]), collate(pairs[3:])], collate(pairs)

    def gradient(batches, num_items):
        model.zero_grad()
        for b in batches:
            trainer.training_step(model, b, num_items)
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    one = gradient([whole], trainer._get_num_items_in_batch([whole], "cpu"))
    assert trainer._get_num_items_in_batch(parts, "cpu") == 8
    accumulated = gradient(parts, trainer._get_num_items_in_batch(parts, "cpu"))
    assert torch.allclose(accumulated, one, atol=1e-6)
    mean_of_means = gradient(parts, None)  # what averaging micro-batch means would give
    assert not torch.allclose(mean_of_means, one, atol=1e-4)
