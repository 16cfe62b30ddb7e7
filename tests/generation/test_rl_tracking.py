"""KL to the initial policy and held-out score during RL: the per-token KL, masks and padding, the tracker's
measurements (KL 0 before training, the training run unchanged) and the series in rl.json."""

from __future__ import annotations

import json
import math

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from rewardkit.cli.main import main
from rewardkit.generation.prompts import PromptItem
from rewardkit.generation.rl_tracking import KLScoreTracker, TrackingConfig, completion_mask, sequence_kl, token_kl
from rewardkit.testing.tiny import tiny_rl_args, tiny_tokenizer


def test_token_kl_hand_computed():
    # p = (1/2, 1/2), q = (1/4, 3/4): KL = 1/2 log 2 + 1/2 log(2/3) = 1/2 log(4/3)
    assert token_kl(torch.tensor([0.0, 0.0]), torch.tensor([0.0, math.log(3)])).item() == pytest.approx(
        0.5 * math.log(4 / 3)
    )
    # temperature 2 divides the logits
    assert token_kl(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 2 * math.log(3)]), 2.0).item() == pytest.approx(
        0.5 * math.log(4 / 3)
    )


def test_completion_mask_keeps_tokens_up_to_the_first_eos():
    mask = completion_mask(torch.tensor([[5, 2, 2, 7], [5, 6, 7, 8]]), eos_token_id=2)
    assert mask.tolist() == [[True, True, False, False], [True, True, True, True]]


@pytest.fixture()
def peft_policy(tiny_model_dir):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    return get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM")).eval()


def test_sequence_kl_with_left_padding_equals_each_row_alone(peft_policy):
    with torch.no_grad():
        for name, p in peft_policy.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)
    short, long_ = [10, 11], [12, 13, 14, 15]
    completions = torch.tensor([[20, 21, 2, 2], [22, 23, 24, 25]])  # the first ends at EOS (id 2)
    mask = completion_mask(completions, 2)
    padded = torch.tensor([[2, 2] + short, long_])
    prompt_mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    batch = sequence_kl(peft_policy, torch.cat([padded, completions], 1), prompt_mask, mask)
    for row, prompt in enumerate((short, long_)):
        ids = torch.tensor([prompt + completions[row].tolist()])
        alone = sequence_kl(peft_policy, ids, torch.ones(1, len(prompt), dtype=torch.long), mask[row : row + 1])
        assert batch[row].item() == pytest.approx(alone.item(), rel=1e-4, abs=1e-6)
    assert (batch > 0).all()
    with pytest.raises(TypeError, match="PEFT"):
        sequence_kl(peft_policy.get_base_model(), ids, torch.ones(1, 2, dtype=torch.long), mask[:1])


def test_a_measurement_leaves_the_rng_alone_and_starts_at_zero_kl(peft_policy):
    items = [
        PromptItem([{"role": "user", "content": "What is 2+2?"}], {"family": "arithmetic"}),
        PromptItem([{"role": "user", "content": "Hi"}], {}),
    ]
    tok = tiny_tokenizer()
    tracker = KLScoreTracker(
        TrackingConfig(samples=3),
        items,
        lambda p, r, m: [float(len(x)) for x in r],
        "length",
        tok,
        steps=8,
        temperature=1.0,
        max_new_tokens=5,
    )
    state = torch.random.get_rng_state()
    first = tracker.measure(peft_policy, 0)
    assert torch.equal(state, torch.random.get_rng_state())
    assert first["kl"] == pytest.approx(0.0, abs=1e-6)  # LoRA B starts at zero: the policy is the initial one
    assert tracker.measure(peft_policy, 5)["score"] == first["score"]  # the same seed: the same samples
    assert tracker.every == 1 and TrackingConfig(every=0).interval(100) == 0 and TrackingConfig().interval(100) == 13


def test_rl_records_kl_and_held_out_score_without_changing_training(tiny_model_dir, tmp_path, capsys):
    reward = tmp_path / "reward.yaml"
    reward.write_text("name: len\ncombine: aspects\naspects: [{kind: metric, metric: length}]\n")
    adapters = {}
    for every in (0, 1):
        out = tmp_path / f"every-{every}"
        code = main(tiny_rl_args(reward, tiny_model_dir, out, track_every=every))
        assert code == 0
        adapters[every] = (out / "adapter" / "adapter_model.safetensors").read_bytes()
    results = json.loads((tmp_path / "every-1" / "rl.json").read_text())
    records = results["tracking"]["records"]
    assert [r["step"] for r in records] == [0, 1, 2] and results["tracking"]["score"] == "gold"
    assert records[0]["kl"] == pytest.approx(0.0, abs=1e-6) and all(r["kl"] >= -1e-6 for r in records)
    assert json.loads((tmp_path / "every-1" / "tracking.json").read_text())["records"] == records
    assert json.loads((tmp_path / "every-0" / "rl.json").read_text())["tracking"] is None
    assert adapters[0] == adapters[1]  # measuring does not change the run ...
    trained = load_file(str(tmp_path / "every-1" / "adapter" / "adapter_model.safetensors"))
    assert any(t.abs().max() > 0 for name, t in trained.items() if "lora_B" in name)  # ... which did train
