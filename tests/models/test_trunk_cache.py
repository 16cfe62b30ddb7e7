"""Frozen-trunk cache: the top-layers path equals the full forward (outputs, losses, gradients, training,
evaluation), the disk cache round-trips, and models with other bottom layers are refused."""

import json
import random

import pytest
import torch
from safetensors.torch import load_file

from rewardkit.data.encoding import PairEncoder
from rewardkit.data.packing import PackedPairCollator
from rewardkit.data.record import PreferencePair
from rewardkit.evaluation.evaluate import load_scorer
from rewardkit.evaluation.suites import EvalSet, EvalSetConfig, evaluate_suite
from rewardkit.models import trunk_cache as tc
from rewardkit.models.loading import build_reward_model, load_tokenizer
from rewardkit.models.reward_model import ModelConfig
from rewardkit.models.trunk_cache import TRUNK_STATES, TrunkCache, TrunkError
from rewardkit.objectives.objective import Objective, ObjectiveConfig
from rewardkit.training.config import DataConfig, RunConfig, TrainConfig
from rewardkit.training.run import reward_stats, run_training


def toy_pairs(n: int = 12, seed: int = 0) -> list[PreferencePair]:
    """Pairs with a shared multi-turn prompt and responses sharing a few leading tokens (exercises the prefix)."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        prompt = [
            {"role": "user", "content": f"Hi #{i}"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": f"What is {a}+{b}?"},
        ]
        pairs.append(
            PreferencePair(
                prompt,
                f"It is {a + b}.",
                f"It is {a * b + 7}, who knows" + "!" * (i % 4),
                subset="even" if i % 2 else "odd",
            )
        )
    return pairs


def top_layers_model(model_dir, **kwargs):
    return build_reward_model(ModelConfig(name=str(model_dir), tuning="top_layers", top_layers=1), **kwargs)


@pytest.fixture(scope="module")
def setup(tiny_plain_model_dir):
    tok = load_tokenizer(str(tiny_plain_model_dir))
    encoded = PairEncoder(tok).encode_all(toy_pairs())
    return tok, encoded


@pytest.mark.parametrize("objective", ["bt", "haf"])
def test_trunk_path_equals_full_forward(tiny_plain_model_dir, setup, objective):
    tok, encoded = setup
    obj = Objective(ObjectiveConfig(objective=objective))
    model = top_layers_model(tiny_plain_model_dir, train_lm_head=True, head_init="normal")
    cache = TrunkCache.for_model(model, top_layers=1)
    assert cache.depth == 1
    cache.ensure(model, encoded, batch_size=5, row_tokens=300)  # computed in other rows than used below
    with_states = cache.collator(tok.pad_token_id, row_tokens=200)(encoded)
    plain = PackedPairCollator(tok.pad_token_id, row_tokens=200)(encoded)
    assert with_states[TRUNK_STATES].shape == (*plain["input_ids"].shape, 32)
    assert len(plain["input_ids"]) > 1  # several packed rows

    def step(batch):
        model.zero_grad()
        out = model(**batch, need_rewards=True, need_logps=True)
        ref = out["logps"].detach() - 0.3
        loss = obj(out["rewards"], out["logps"], ref, batch).loss
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return out, loss.detach(), grads

    fast, fast_loss, fast_grads = step(with_states)
    full, full_loss, full_grads = step(plain)
    torch.testing.assert_close(fast["rewards"], full["rewards"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast["logps"], full["logps"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_loss, full_loss, atol=1e-6, rtol=1e-5)
    assert fast_grads.keys() == full_grads.keys() and any("layers.1." in n for n in fast_grads)
    for name in full_grads:
        torch.testing.assert_close(fast_grads[name], full_grads[name], atol=1e-5, rtol=1e-4)


def test_cache_round_trips_on_disk_and_self_check_catches_wrong_states(
    tiny_plain_model_dir, setup, tmp_path, monkeypatch
):
    tok, encoded = setup
    model = top_layers_model(tiny_plain_model_dir)
    first = TrunkCache.for_model(model, 1, tmp_path)
    first.ensure(model, encoded)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1

    def no_compute(*args, **kwargs):
        raise AssertionError("recomputed instead of reading the disk cache")

    monkeypatch.setattr(tc, "compute_trunk_states", no_compute)
    other = top_layers_model(tiny_plain_model_dir)
    second = TrunkCache.for_model(other, 1, tmp_path)
    second.ensure(other, encoded)
    for p in encoded:
        torch.testing.assert_close(second.lookup(p), first.lookup(p), atol=0, rtol=0)

    third = TrunkCache.for_model(other, 1, tmp_path)
    third.states.update({k: v + 0.01 for k, v in second.states.items()})  # wrong states, already in memory
    with pytest.raises(TrunkError, match="self-check failed"):
        third.self_check(other, encoded[:2])
    with pytest.raises(TrunkError, match="pair 0: no cached trunk states"):
        TrunkCache.for_model(other, 1).collator(tok.pad_token_id)(encoded[:1])


def test_models_with_other_bottom_layers_are_refused(tiny_plain_model_dir, setup):
    _, encoded = setup
    base = top_layers_model(tiny_plain_model_dir)
    cache = TrunkCache.for_model(base, 1)
    top_changed = top_layers_model(tiny_plain_model_dir)
    with torch.no_grad():
        top_changed.base_backbone.layers[1].mlp.down_proj.weight.add_(0.1)  # a trainable layer: same trunk
        top_changed.score.weight.add_(0.1)
    cache.ensure(top_changed, encoded[:3])
    bottom_changed = top_layers_model(tiny_plain_model_dir)
    with torch.no_grad():
        bottom_changed.base_backbone.layers[0].mlp.down_proj.weight.add_(1e-3)
    assert not cache.matches(bottom_changed)
    with pytest.raises(TrunkError, match="bottom 1 layers differ"):
        cache.ensure(bottom_changed, encoded[:3])
    with pytest.raises(ValueError, match="cache_trunk needs model.tuning=top_layers"):
        ModelConfig(tuning="lora", cache_trunk=True)


def test_training_through_the_trunk_raises_if_the_trunk_trains(tiny_plain_model_dir, setup):
    tok, encoded = setup
    model = top_layers_model(tiny_plain_model_dir)
    cache = TrunkCache.for_model(model, 1)
    cache.ensure(model, encoded[:4])
    model.base_backbone.layers[0].requires_grad_(True)
    with pytest.raises(TrunkError, match="not frozen"):
        model(**cache.collator(tok.pad_token_id)(encoded[:4]))


@pytest.fixture(scope="module")
def trained(tiny_plain_model_dir, tmp_path_factory):
    """The same short HaF run (reference log-probs, validation, export) without and with the trunk cache."""
    root = tmp_path_factory.mktemp("trunk-runs")
    data = root / "toy.jsonl"
    data.write_text(
        "\n".join(
            json.dumps({"prompt": p.prompt[-1]["content"], "chosen": p.chosen, "rejected": p.rejected})
            for p in toy_pairs(24, seed=1)
        )
    )
    exports = {}
    for cached in (False, True):
        name = "cached" if cached else "plain"
        cfg = RunConfig(
            model=ModelConfig(
                name=str(tiny_plain_model_dir),
                tuning="top_layers",
                top_layers=1,
                cache_trunk=cached,
                trunk_cache_dir=str(root / "trunk") if cached else None,
            ),
            data=DataConfig(train=[str(data)], heldout_fraction=0.0, validation_fraction=0.25, max_length=64),
            objective=ObjectiveConfig(objective="haf"),
            training=TrainConfig(
                output_dir=str(root / name),
                max_steps=4,
                batch_size=4,
                eval_batch_size=4,
                learning_rate=3e-3,
                eval_steps=2,
                logging_steps=1,
                save_steps=1000,
                report_to=[],
                eval_before=False,
            ),
        )
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REWARDKIT_HOME", str(root / f"home-{name}"))  # each run computes its reference log-probs
            results = run_training(cfg)
        exports[name] = results
    assert list((root / "trunk").glob("*.safetensors"))
    return root, exports


def test_training_with_the_cache_gives_the_same_weights(trained, tiny_plain_model_dir):
    root, results = trained
    for part in ("model.safetensors", "policy/model.safetensors"):
        plain = load_file(str(root / "plain" / "export" / part))
        cached = load_file(str(root / "cached" / "export" / part))
        assert plain.keys() == cached.keys()
        for key in plain:
            torch.testing.assert_close(cached[key], plain[key], atol=1e-5, rtol=0)
    # the updates themselves agree (a far stricter test than the weights after 4 small steps)
    base = load_file(str(tiny_plain_model_dir / "model.safetensors"))
    plain = load_file(str(root / "plain" / "export" / "policy" / "model.safetensors"))
    cached = load_file(str(root / "cached" / "export" / "policy" / "model.safetensors"))
    trained_keys = [k for k in base if k.startswith("model.layers.1.") or k == "model.norm.weight"]
    plain_update = torch.cat([(plain[k] - base[k]).flatten() for k in trained_keys])
    cached_update = torch.cat([(cached[k] - base[k]).flatten() for k in trained_keys])
    assert plain_update.norm() > 1e-3
    assert (cached_update - plain_update).norm() <= 1e-5 * plain_update.norm()  # float noise: ~3e-7
    val = lambda r: [e["eval_loss"] for e in r["log_history"] if "eval_loss" in e]  # noqa: E731
    assert val(results["cached"]) == pytest.approx(val(results["plain"]), abs=1e-5)


def test_reward_statistics_run_only_the_top_layers_on_cached_states(tiny_plain_model_dir, setup, tmp_path):
    """The export's reward mean / std (training/run.py reward_stats) read through the run's trunk collator: the
    same values as a full forward, without running the frozen bottom layer."""
    tok, encoded = setup
    model = top_layers_model(tiny_plain_model_dir).eval()
    collate = tc.prepare_trunk_collator(
        model,
        encoded,
        top_layers=1,
        pad_token_id=tok.pad_token_id,
        packing=True,
        row_tokens=None,
        directory=tmp_path,
        batch_size=4,
    )
    calls = []
    hook = model.base_backbone.layers[0].register_forward_hook(lambda *_: calls.append(1))
    cached = reward_stats(model, encoded, collate, batch_size=4)
    assert calls == []  # layer 0 is frozen and cached
    full = reward_stats(model, encoded, batch_size=4)
    hook.remove()
    assert calls and cached["count"] == full["count"] == 2 * len(encoded)
    assert (cached["mean"], cached["std"]) == pytest.approx((full["mean"], full["std"]), abs=1e-5)


def test_evaluation_with_the_cache_equals_without(trained, tiny_plain_model_dir, tmp_path, monkeypatch):
    root, _ = trained
    monkeypatch.setenv("REWARDKIT_HOME", str(tmp_path / "home"))
    scorer = load_scorer(str(root / "cached" / "export"))
    assert scorer.reference is not None  # HaF: reward head and implicit reward
    pairs = toy_pairs(10, seed=2)
    sets = {
        "toy": EvalSet(
            EvalSetConfig("toy", ["toy.jsonl"], section="test"), pairs, len(pairs), subset_sizes={"even": 5, "odd": 5}
        )
    }
    plain = evaluate_suite(scorer, sets, batch_size=4, prior=None)
    base_cache = TrunkCache.for_base_model(str(tiny_plain_model_dir), 1, tmp_path / "trunk")
    monkeypatch.setenv("REWARDKIT_HOME", str(tmp_path / "home-cached"))  # recompute the reference through the trunk
    cached = evaluate_suite(scorer, sets, batch_size=4, prior=None, trunk_cache=base_cache)
    assert cached["margins"]["toy"] == pytest.approx(plain["margins"]["toy"], abs=1e-5)
    for key in ("accuracy", "margin_mean", "implicit_accuracy"):
        assert cached["metrics"]["toy"][key] == pytest.approx(plain["metrics"]["toy"][key], abs=1e-5)
    assert cached["metrics"]["toy"]["implicit"]["margin_mean"] == pytest.approx(
        plain["metrics"]["toy"]["implicit"]["margin_mean"], abs=1e-5
    )
