"""Export: HF AutoModelForSequenceClassification / AutoModelForCausalLM give rewardkit's numbers."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import PairEncoder
from rewardkit.data.record import PreferencePair
from rewardkit.models.export import export_model
from rewardkit.models.loading import build_reward_model, load_exported, load_tokenizer, read_metadata
from rewardkit.models.reward_model import ModelConfig

PAIRS = [
    PreferencePair([{"role": "user", "content": "Say hi"}], "Hi there!", "No."),
    PreferencePair([{"role": "user", "content": "Tell me a long story"}], "Once upon a time there was a cat.", "No"),
]


def trained_like(model_dir, tuning):
    """A model whose LoRA / head weights are not at init, so merging and head export matter."""
    torch.manual_seed(1)
    model = build_reward_model(ModelConfig(name=str(model_dir), tuning=tuning), train_lm_head=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)
    return model.eval()


@pytest.mark.parametrize("tuning, plain", [("lora", False), ("full", False), ("full", True)])
def test_seqcls_export_gives_the_same_rewards(tiny_model_dir, tiny_plain_model_dir, tmp_path, tuning, plain):
    model_dir = tiny_plain_model_dir if plain else tiny_model_dir
    model = trained_like(model_dir, tuning)
    tok = load_tokenizer(str(model_dir))
    assert tok.pad_token_id == tok.eos_token_id  # the pitfall is live for this tokenizer
    encoded = PairEncoder(tok).encode_all(PAIRS)
    batch = PaddedPairCollator(tok.pad_token_id)(encoded)
    with torch.no_grad():
        ours = model(**batch)["rewards"]
    out = export_model(model, tok, tmp_path / "rm", metadata={"objective": "bt"})

    hf = AutoModelForSequenceClassification.from_pretrained(out).eval()
    hf_tok = AutoTokenizer.from_pretrained(out)
    assert hf.config.num_labels == 1 and hf.config.pad_token_id != tok.eos_token_id
    assert hf_tok.pad_token_id == hf.config.pad_token_id
    assert read_metadata(out)["reward_position"] == "conversation_end"
    # batched, right-padded with the exported pad token: HF pools at the last non-pad token = the reward token
    seqs = [e.prompt_ids + e.chosen_ids for e in encoded] + [e.prompt_ids + e.rejected_ids for e in encoded]
    padded = hf_tok.pad({"input_ids": seqs}, return_tensors="pt")
    with torch.no_grad():
        theirs = hf(**padded).logits[:, 0]
    assert torch.allclose(ours, theirs, atol=1e-4)
    # the whole conversation rendered by the exported tokenizer's own chat template (the plain one for a model
    # without a template), as TRL / verl / pipelines do
    text = hf_tok.apply_chat_template(
        PAIRS[0].prompt + [{"role": "assistant", "content": PAIRS[0].chosen}], tokenize=False
    )
    ids = hf_tok(text, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        assert hf(**ids).logits[0, 0].item() == pytest.approx(ours[0].item(), abs=1e-4)

    if plain:  # the plain template ends with EOS: with pad == eos, HF would skip it and read the token before
        hf.config.pad_token_id = tok.eos_token_id
        with torch.no_grad():
            wrong = hf(**padded).logits[:, 0]
        assert not torch.allclose(ours, wrong, atol=1e-3)


def test_hybrid_export_has_reward_model_and_policy(tiny_plain_model_dir, tmp_path):
    model = trained_like(tiny_plain_model_dir, "lora")
    tok = load_tokenizer(str(tiny_plain_model_dir))
    encoded = PairEncoder(tok).encode_all(PAIRS)
    batch = PaddedPairCollator(tok.pad_token_id)(encoded)
    with torch.no_grad():
        ours = model(**batch, need_logps=True)
    out = export_model(
        model, tok, tmp_path / "haf", metadata={"objective": "haf", "max_length": 512}, reward_head=True, policy=True
    )
    policy = AutoModelForCausalLM.from_pretrained(out / "policy").eval()
    with torch.no_grad():
        logits = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    flat = logits.log_softmax(-1).reshape(-1, logits.shape[-1])
    token_logps = flat[batch["logp_positions"], batch["logp_targets"]]
    theirs = torch.zeros(4).index_add(0, batch["logp_seq"], token_logps)
    assert torch.allclose(ours["logps"], theirs, atol=1e-3)
    # rewardkit reloads both heads from the export
    reloaded = load_exported(out).eval()
    with torch.no_grad():
        again = reloaded(**batch, need_logps=True)
    assert torch.allclose(again["rewards"], ours["rewards"], atol=1e-4)
    assert torch.allclose(again["logps"], ours["logps"], atol=1e-3)
    meta = read_metadata(out)
    assert meta["objective"] == "haf" and meta["policy"] and meta["reward_head"]
    assert "haf" in (out / "README.md").read_text()


def test_dpo_export_is_policy_only(tiny_model_dir, tmp_path):
    model = trained_like(tiny_model_dir, "lora")
    tok = load_tokenizer(str(tiny_model_dir))
    out = export_model(model, tok, tmp_path / "dpo", metadata={"objective": "dpo"}, reward_head=False, policy=True)
    assert not (out / "config.json").exists() and (out / "policy" / "config.json").exists()
    assert json.loads((out / "rewardkit.json").read_text())["reward_head"] is False
    assert load_exported(out).lm_head is not None


def test_an_export_without_the_reward_position_marker_is_scored_the_old_way(tiny_model_dir, tmp_path):
    """Exports written before the chat-template contract read the reward at an EOS appended to the bare response;
    rewardkit keeps scoring them that way (their rewardkit.json has no reward_position)."""
    from rewardkit.evaluation.evaluate import load_scorer

    tok = load_tokenizer(str(tiny_model_dir))
    out = export_model(trained_like(tiny_model_dir, "full"), tok, tmp_path / "old", metadata={"objective": "bt"})
    meta = read_metadata(out)
    del meta["reward_position"]
    (out / "rewardkit.json").write_text(json.dumps(meta))
    scorer = load_scorer(str(out))
    assert scorer.encoding.reward_position == "appended_eos"
    hf = AutoModelForSequenceClassification.from_pretrained(out).eval()
    prompt = tok.apply_chat_template(PAIRS[0].prompt, tokenize=False, add_generation_prompt=True)
    ids = tok(prompt + PAIRS[0].chosen + tok.eos_token, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        old_way = hf(**ids).logits[0, 0].item()
    assert scorer.score([PAIRS[0].prompt], [PAIRS[0].chosen])["rewards"][0].item() == pytest.approx(old_way, abs=1e-4)


def test_export_follows_the_hub_and_openrlhf_conventions(tiny_rm_dir):
    config = json.loads((tiny_rm_dir / "config.json").read_text())
    assert config["problem_type"] == "regression" and config["id2label"] == {"0": "reward"}
    assert config["value_head_prefix"] == "score"  # where OpenRLHF looks for the head
    assert AutoTokenizer.from_pretrained(tiny_rm_dir).model_max_length == read_metadata(tiny_rm_dir)["max_length"] == 96


def test_card_metadata_names_the_hub_base_model_datasets_and_license():
    from rewardkit.models.model_card import card_metadata

    meta = {
        "base_model": "smollm2-135m",
        "objective": "haf",
        "reward_head": True,
        "train_data": ["suite", "../shared/data/hh.jsonl", "hf:trl-lib/ultrafeedback_binarized:train"],
    }
    assert card_metadata(meta) == {
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        "tags": ["reward-model", "rewardkit", "haf"],
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "datasets": ["trl-lib/ultrafeedback_binarized"],
        "license": "apache-2.0",
    }
    assert "base_model" not in card_metadata({"base_model": "/tmp/a-local-dir", "reward_head": True})


@pytest.mark.parametrize("fixture", ["tiny_rm_dir", "tiny_haf_dir"])  # ChatML template; plain template (+ policy)
def test_model_card_usage_snippet_runs_as_written(request, fixture, monkeypatch):
    import re

    import yaml

    from rewardkit.evaluation.evaluate import load_scorer

    export = request.getfixturevalue(fixture)
    card = (export / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["pipeline_tag"] == "text-classification" and "reward-model" in front["tags"]
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    monkeypatch.chdir(export)  # the snippet loads "." : the export directory
    namespace: dict = {}
    exec(compile(code, str(export / "README.md"), "exec"), namespace)
    expected = load_scorer(str(export)).score([[{"role": "user", "content": "What is 2+2?"}]], ["4"])["rewards"]
    assert namespace["reward"] == pytest.approx(expected[0].item(), abs=1e-4)


def test_untied_lm_head_trains_alone_and_exports(tiny_model_dir, tmp_path):
    cfg = ModelConfig(name=str(tiny_model_dir), tuning="top_layers", top_layers=1, untie_lm_head=True)
    model = build_reward_model(cfg, train_lm_head=True)
    embedding = model.base_backbone.get_input_embeddings().weight
    assert model.lm_head.weight is not embedding and torch.equal(model.lm_head.weight, embedding)
    assert model.lm_head.weight.requires_grad and not embedding.requires_grad  # the trunk stays frozen
    tied = build_reward_model(
        ModelConfig(name=str(tiny_model_dir), tuning="top_layers", top_layers=1), train_lm_head=True
    )
    assert not tied.lm_head.weight.requires_grad  # without the option a tied head stays frozen
    original = embedding.detach().clone()
    with torch.no_grad():
        model.lm_head.weight.add_(0.5 * torch.randn_like(model.lm_head.weight))
    tok = load_tokenizer(str(tiny_model_dir))
    batch = PaddedPairCollator(tok.pad_token_id)(PairEncoder(tok).encode_all(PAIRS))
    model.eval()
    with torch.no_grad():
        ours = model(**batch, need_logps=True)
    out = export_model(model, tok, tmp_path / "haf", metadata={"objective": "haf"}, reward_head=True, policy=True)
    reloaded = load_exported(out).eval()
    assert torch.equal(reloaded.base_backbone.get_input_embeddings().weight, original)
    assert torch.allclose(reloaded.lm_head.weight, model.lm_head.weight)
    with torch.no_grad():
        again = reloaded(**batch, need_logps=True)
    assert torch.allclose(again["logps"], ours["logps"], atol=1e-4)
