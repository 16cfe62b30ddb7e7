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


@pytest.mark.parametrize("tuning", ["lora", "full"])
def test_seqcls_export_gives_the_same_rewards(tiny_model_dir, tmp_path, tuning):
    model = trained_like(tiny_model_dir, tuning)
    tok = load_tokenizer(str(tiny_model_dir))
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
    # batched, right-padded with the exported pad token: HF pools at the last non-pad token = the EOS
    seqs = [e.prompt_ids + e.chosen_ids for e in encoded] + [e.prompt_ids + e.rejected_ids for e in encoded]
    padded = hf_tok.pad({"input_ids": seqs}, return_tensors="pt")
    with torch.no_grad():
        theirs = hf(**padded).logits[:, 0]
    assert torch.allclose(ours, theirs, atol=1e-4)
    # the same text through the exported tokenizer: prompt text + response + EOS token
    prompt = hf_tok.apply_chat_template(PAIRS[0].prompt, tokenize=False, add_generation_prompt=True)
    ids = hf_tok(prompt + PAIRS[0].chosen + hf_tok.eos_token, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        assert hf(**ids).logits[0, 0].item() == pytest.approx(ours[0].item(), abs=1e-4)

    # the pitfall: with pad == eos, HF would skip the EOS and read the token before it
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
    out = export_model(model, tok, tmp_path / "haf", metadata={"objective": "haf", "max_length": 512},
                       reward_head=True, policy=True)
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
    out = export_model(model, tok, tmp_path / "dpo", metadata={"objective": "dpo"}, reward_head=False,
                       policy=True)
    assert not (out / "config.json").exists() and (out / "policy" / "config.json").exists()
    assert json.loads((out / "rewardkit.json").read_text())["reward_head"] is False
    assert load_exported(out).lm_head is not None


def test_untied_lm_head_trains_alone_and_exports(tiny_model_dir, tmp_path):
    cfg = ModelConfig(name=str(tiny_model_dir), tuning="top_layers", top_layers=1, untie_lm_head=True)
    model = build_reward_model(cfg, train_lm_head=True)
    embedding = model.base_backbone.get_input_embeddings().weight
    assert model.lm_head.weight is not embedding and torch.equal(model.lm_head.weight, embedding)
    assert model.lm_head.weight.requires_grad and not embedding.requires_grad  # the trunk stays frozen
    tied = build_reward_model(ModelConfig(name=str(tiny_model_dir), tuning="top_layers", top_layers=1),
                              train_lm_head=True)
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
