"""Other tools' reward-model checkpoints load with their trained heads and score as their trainer does; a directory
without a trained head is refused (scoring, serving), never given a random one."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, LlamaForSequenceClassification

from rewardkit.cli.main import main
from rewardkit.evaluation.evaluate import load_scorer
from rewardkit.models.heads import MissingRewardHeadError, find_reward_head
from rewardkit.models.loading import build_reward_model, read_metadata
from rewardkit.models.reward_model import ModelConfig
from rewardkit.testing.tiny import save_tiny_model, tiny_llama_config, tiny_tokenizer
from rewardkit.testing.tools import render_conversations, seqcls_rewards, trl_grpo_rewards

PROMPTS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour"}],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "What is 9+9?"},
    ],
]
RESPONSES = ["4", "Blue, I think", "18."]


@pytest.fixture(scope="module")
def trl_checkpoint(tiny_model_dir, tmp_path_factory):
    """A reward model really trained by TRL's RewardTrainer (a few steps, conversational data) and saved by it."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    out = tmp_path_factory.mktemp("trl-rm")
    rows = [
        {
            "prompt": [{"role": "user", "content": f"What is {i}+1?"}],
            "chosen": [{"role": "assistant", "content": f"{i + 1}."}],
            "rejected": [{"role": "assistant", "content": "Maybe 7, who knows"}],
        }
        for i in range(12)
    ]
    args = RewardConfig(
        output_dir=str(out / "run"),
        max_steps=3,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        logging_steps=1,
    )
    trainer = RewardTrainer(
        model=str(tiny_model_dir),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(tiny_model_dir),
    )
    trainer.train()
    trainer.save_model(str(out / "final"))
    return out / "final"


def score_cli(model_dir, tmp_path) -> list[float]:
    source = tmp_path / "items.jsonl"
    source.write_text("\n".join(json.dumps({"prompt": p, "response": r}) for p, r in zip(PROMPTS, RESPONSES)))
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--model", str(model_dir), "--input", str(source), "--output", str(out)]) == 0
    return [json.loads(line)["reward"] for line in out.read_text().splitlines()]


def chat_ids(model_dir) -> list[torch.Tensor]:
    tok = AutoTokenizer.from_pretrained(model_dir)
    return [
        tok(t, add_special_tokens=False, return_tensors="pt")["input_ids"]
        for t in render_conversations(tok, PROMPTS, RESPONSES)
    ]


def test_trl_reward_trainer_checkpoint_scores_as_trl(trl_checkpoint, tmp_path):
    assert find_reward_head(trl_checkpoint).weight_key == "score.weight"
    ours = score_cli(trl_checkpoint, tmp_path)
    tok = AutoTokenizer.from_pretrained(trl_checkpoint)
    theirs = seqcls_rewards(trl_checkpoint, render_conversations(tok, PROMPTS, RESPONSES))
    assert ours == pytest.approx(theirs, abs=1e-4)
    grpo = trl_grpo_rewards(trl_checkpoint, PROMPTS, [[{"role": "assistant", "content": r}] for r in RESPONSES])
    assert ours == pytest.approx(grpo, abs=1e-4)
    assert max(ours) - min(ours) > 1e-3  # a trained head, not a constant


@pytest.fixture(scope="module")
def openrlhf_checkpoint(tmp_path_factory):
    """OpenRLHF's reward-model layout: architectures ["RewardModel"], the decoder under `model.`, the head named by
    `value_head_prefix` (older versions: value_head), reward mean / std in config.json."""
    out = tmp_path_factory.mktemp("openrlhf-rm")
    tok = tiny_tokenizer()
    torch.manual_seed(5)
    config = tiny_llama_config(len(tok))
    decoder = AutoModel.from_config(config)
    state = {f"model.{k}": v.contiguous() for k, v in decoder.state_dict().items()}
    state["value_head.weight"] = torch.randn(1, config.hidden_size) * 0.5
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.architectures = ["RewardModel"]
    config.value_head_prefix, config.normalize_reward, config.mean, config.std = "value_head", False, 0.25, 1.5
    config.to_json_file(str(out / "config.json"))
    tok.save_pretrained(out)
    return out


def test_openrlhf_checkpoint_loads_its_value_head_and_stats(openrlhf_checkpoint, tmp_path):
    head = find_reward_head(openrlhf_checkpoint)
    assert (head.layout, head.weight_key, head.bias_key) == ("sequence_classification", "value_head.weight", None)
    state_head = head.tensors()[0]
    decoder = AutoModel.from_pretrained(openrlhf_checkpoint).eval()
    with torch.no_grad():  # OpenRLHF: the value head on the last hidden state of the last token
        expected = [
            (decoder(ids).last_hidden_state[0, -1] @ state_head[0]).item() for ids in chat_ids(openrlhf_checkpoint)
        ]
    assert score_cli(openrlhf_checkpoint, tmp_path) == pytest.approx(expected, abs=1e-4)

    export = tmp_path / "converted"
    assert main(["convert", "--model", str(openrlhf_checkpoint), "--output", str(export)]) == 0
    config = json.loads((export / "config.json").read_text())
    assert (config["mean"], config["std"], config["problem_type"]) == (0.25, 1.5, "regression")
    converted = seqcls_rewards(export, render_conversations(AutoTokenizer.from_pretrained(export), PROMPTS, RESPONSES))
    assert converted == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("file", ["value_head.safetensors", "value_head.bin"])
def test_llamafactory_value_head_loads_and_converts(tmp_path_factory, tmp_path, file):
    """LLaMA-Factory's layout: the causal LM directory + value_head.{safetensors,bin} with
    v_head.summary.{weight,bias}."""
    base = save_tiny_model(tmp_path_factory.mktemp("llamafactory"), seed=4)
    weight, bias = torch.randn(1, 32) * 0.5, torch.tensor([0.75])
    head = {"v_head.summary.weight": weight, "v_head.summary.bias": bias}
    if file.endswith(".bin"):
        torch.save(head, base / file)
    else:
        save_file(head, str(base / file))
    lm = AutoModelForCausalLM.from_pretrained(base).eval()
    with torch.no_grad():
        expected = [(lm.model(ids).last_hidden_state[0, -1] @ weight[0] + bias[0]).item() for ids in chat_ids(base)]
    assert score_cli(base, tmp_path) == pytest.approx(expected, abs=1e-4)

    export = tmp_path / "converted"
    assert main(["convert", "--model", str(base), "--output", str(export)]) == 0
    assert read_metadata(export)["score_bias"] == pytest.approx(0.75)
    assert load_scorer(str(export)).score(PROMPTS, RESPONSES)["rewards"].tolist() == pytest.approx(expected, abs=1e-4)
    plain_hf = seqcls_rewards(export, render_conversations(AutoTokenizer.from_pretrained(export), PROMPTS, RESPONSES))
    assert plain_hf == pytest.approx([e - 0.75 for e in expected], abs=1e-4)  # the documented offset


def test_a_directory_without_a_trained_head_is_refused_for_scoring(tiny_model_dir, caplog):
    with pytest.raises(MissingRewardHeadError, match="no trained reward head") as error:
        load_scorer(str(tiny_model_dir))
    for looked_for in ("rewardkit.json", "ForSequenceClassification", "value_head.safetensors", "value_head.bin"):
        assert looked_for in str(error.value)
    with caplog.at_level("INFO", logger="rewardkit.models"):  # training may start from it, with a logged fresh head
        build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="full"))
    assert "fresh reward head" in caplog.text


def test_the_server_refuses_a_headless_model(tiny_model_dir, capsys):
    assert main(["serve", "--model", str(tiny_model_dir)]) == 2
    assert "no trained reward head" in capsys.readouterr().err


def test_a_classifier_with_several_labels_is_not_a_reward_model(tmp_path):
    tok = tiny_tokenizer()
    config = tiny_llama_config(len(tok))
    config.num_labels = 2
    LlamaForSequenceClassification(config).save_pretrained(tmp_path)
    with pytest.raises(MissingRewardHeadError, match="one output"):
        find_reward_head(tmp_path)
