"""Encoding: the whole conversation's render (reward at its last token), the plain template, the legacy layout,
truncation (prompt from the left by turns, then responses from the right, keeping their closing tokens)."""

from rewardkit.data.collate import PaddedPairCollator
from rewardkit.data.encoding import (
    PLAIN_CHAT_TEMPLATE,
    EncodingConfig,
    PairEncoder,
    PromptRenderer,
    truncate_left,
    truncate_response,
)
from rewardkit.data.loading import DataSpec, load_pairs
from rewardkit.data.record import PreferencePair
from rewardkit.testing.tiny import tiny_tokenizer


def msgs(*turns):
    roles = ["user", "assistant"]
    return [{"role": roles[i % 2], "content": c} for i, c in enumerate(turns)]


def test_chat_template_response_is_the_rest_of_the_conversation_render():
    tok = tiny_tokenizer()
    enc = PairEncoder(tok, EncodingConfig(max_length=512)).encode(PreferencePair(msgs("hi"), "yes", "no"))
    assert tok.decode(enc.prompt_ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.decode(enc.chosen_ids) == "yes<|im_end|>\n"  # the template's closing tokens: the reward is read at "\n"
    whole = tok.apply_chat_template(msgs("hi", "yes"), tokenize=False)  # what TRL / verl / pipelines render
    assert enc.prompt_ids + enc.chosen_ids == tok(whole, add_special_tokens=False)["input_ids"]


def test_plain_template_without_chat_template():
    tok = tiny_tokenizer(chat_template=False)
    renderer = PromptRenderer(tok)
    assert renderer.template == PLAIN_CHAT_TEMPLATE and not renderer.use_chat_template
    messages = [{"role": "system", "content": "Be brief."}] + msgs("hi", "hello", "2+2?")
    assert renderer.prompt_text(messages) == "Be brief.\n\nHuman: hi\n\nAssistant: hello\n\nHuman: 2+2?\n\nAssistant:"
    assert renderer.conversation_text(messages, "4") == renderer.prompt_text(messages) + " 4<|im_end|>"
    assert (renderer.response_prefix, renderer.response_closing) == (" ", "<|im_end|>")
    prompt, (response,) = renderer.encode(messages, ["4"])
    assert tok.decode(response) == " 4<|im_end|>"


def test_plain_and_legacy_layouts_agree_for_plain_models():
    """Before the contract rewardkit appended EOS to the bare response; the plain template ends the final response
    with EOS, so a plain model's token ids (and old plain exports' rewards) are unchanged."""
    tok = tiny_tokenizer(chat_template=False)
    new, old = PromptRenderer(tok), PromptRenderer(tok, reward_position="appended_eos")
    messages = msgs("hi", "hello", "2+2?")
    assert new.encode(messages, ["4", "five"]) == old.encode(messages, ["4", "five"])


def test_legacy_layout_appends_eos_to_the_bare_response():
    tok = tiny_tokenizer()
    prompt, (response,) = PromptRenderer(tok, reward_position="appended_eos").encode(msgs("hi"), ["yes"])
    assert tok.decode(response) == "yes<|im_end|>" and response[-1] == tok.eos_token_id


def test_prompt_not_a_token_prefix_splits_at_the_common_prefix(caplog):
    """A template that renders the prompt alone differently (like DeepSeek-R1's <think> generation prompt): the
    response starts where the two tokenizations diverge, and prompt + response is still the whole render."""
    tok = tiny_tokenizer()
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n<think>{% endif %}"
    )
    renderer = PromptRenderer(tok)
    with caplog.at_level("WARNING", logger="rewardkit.data"):
        prompt, (chosen, rejected) = renderer.encode(msgs("hi"), ["yes", "no"])
    for response, text in ((chosen, "yes"), (rejected, "no")):
        whole = tok.apply_chat_template(msgs("hi", text), tokenize=False)
        assert prompt + response == tok(whole, add_special_tokens=False)["input_ids"]
    assert tok.decode(prompt) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert renderer.boundary_merges == 1 and "not a prefix" in caplog.text
    encoder = PairEncoder(tok)
    encoder.renderer = renderer
    encoder.encode_all([PreferencePair(msgs("q"), "a", "b")])
    assert encoder.stats["prompt_boundary_merged"] == 1


def test_rendered_prompt_encodes_like_the_conversation():
    for tok in (tiny_tokenizer(), tiny_tokenizer(chat_template=False)):
        renderer = PromptRenderer(tok)
        messages = msgs("hi", "hello", "2+2?")
        assert renderer.encode_rendered(renderer.prompt_text(messages), "4") == (lambda p, r: (p, r[0]))(
            *renderer.encode(messages, ["4"])
        )


def test_truncate_response_keeps_the_closing_tokens():
    assert truncate_response([5, 6, 7, 8, 2], 3) == [5, 6, 2]
    assert truncate_response([5, 6, 7, 8, 2, 10], 4, tail=2) == [5, 6, 2, 10]
    assert truncate_response([5, 2], 3) == [5, 2]


def test_truncate_left_keeps_the_latest_tokens():
    assert truncate_left([1, 2, 3, 4], [5, 6], 4) == ([3, 4], [5, 6])
    assert truncate_left([1, 2], [3, 4, 5, 6], 3) == ([2], [5, 6])
    assert truncate_left([1], [2], 4) == ([1], [2])


def test_prompt_drops_oldest_turns_first_then_responses_are_cut():
    tok = tiny_tokenizer()
    old = "old turn " * 20
    pair = PreferencePair(msgs(old, "a reply " * 10, "latest question?"), "short", "x" * 300)
    cfg = EncodingConfig(max_length=200, max_prompt_length=60)
    encoder = PairEncoder(tok, cfg)
    enc = encoder.encode(pair)
    prompt = tok.decode(enc.prompt_ids)
    assert "latest question?" in prompt and "old turn" not in prompt  # whole oldest turns removed
    assert prompt.startswith("<|im_start|>user\nlatest question?")
    assert len(enc.prompt_ids) + len(enc.rejected_ids) == 200  # rejected cut from the right to fit
    assert tok.decode(enc.rejected_ids[-3:]) == "x<|im_end|>\n"  # keeping the closing tokens the reward is read at
    assert tok.decode(enc.chosen_ids) == "short<|im_end|>\n"
    assert encoder.stats["prompt_truncated"] == 1 and encoder.stats["response_truncated"] == 1


def test_single_long_turn_is_cut_from_the_left():
    tok = tiny_tokenizer()
    pair = PreferencePair(msgs("start " + "word " * 100 + "END?"), "a", "b")
    enc = PairEncoder(tok, EncodingConfig(max_length=64)).encode(pair)
    assert len(enc.prompt_ids) + 3 <= 64
    assert tok.decode(enc.prompt_ids).endswith("END?<|im_end|>\n<|im_start|>assistant\n")


def test_identical_after_truncation_is_dropped_and_counted(caplog):
    tok = tiny_tokenizer()
    pairs = [
        PreferencePair(msgs("q"), "same start " * 20 + "A", "same start " * 20 + "B"),
        PreferencePair(msgs("q"), "good", "bad"),
    ]
    encoder = PairEncoder(tok, EncodingConfig(max_length=40))
    with caplog.at_level("WARNING", logger="rewardkit.data"):
        out = encoder.encode_all(pairs)
    assert len(out) == 1 and out[0].index == 1
    assert "dropped 1 of 2 pairs" in caplog.text


def test_collator_reward_positions_are_the_last_tokens_and_prompt_is_masked():
    tok = tiny_tokenizer()
    pairs = [PreferencePair(msgs("hello"), "hi!", "go away now"), PreferencePair(msgs("2+2?"), "4", "5")]
    encoded = PairEncoder(tok).encode_all(pairs)
    batch = PaddedPairCollator(tok.pad_token_id)(encoded)
    flat_ids = batch["input_ids"].reshape(-1)
    assert batch["input_ids"].shape[0] == 4  # one forward: chosen rows, then rejected rows
    assert (flat_ids[batch["reward_positions"]] == tok.convert_tokens_to_ids("\u010a")).all()  # "\n" after <|im_end|>
    # pad == eos here: the reward index comes from lengths, never from searching for the pad token
    lengths = batch["attention_mask"].sum(1)
    width = batch["input_ids"].shape[1]
    assert batch["reward_positions"].tolist() == [r * width + int(n) - 1 for r, n in enumerate(lengths)]
    # every log-prob target is a response token; position p predicts the token at p + 1
    assert (flat_ids[batch["logp_positions"] + 1] == batch["logp_targets"]).all()
    n_response = sum(len(e.chosen_ids) + len(e.rejected_ids) for e in encoded)
    assert batch["logp_targets"].numel() == n_response


def test_real_hh_records_with_the_default_tokenizer(shared_data, smollm2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    pairs = load_pairs(DataSpec(str(shared_data / "hh-rlhf/harmless-base/test.jsonl.gz"), limit=50))
    encoder = PairEncoder(tok, EncodingConfig(max_length=128))
    encoded = encoder.encode_all(pairs)
    assert pairs[0].prompt[0]["content"] == "what are some pranks with a pen i can do?"
    # at 128 tokens the oldest turns go first: the latest user turn and the generation prompt remain
    text = tok.decode(encoded[0].prompt_ids)
    assert text.endswith(f"<|im_start|>user\n{pairs[0].prompt[-1]['content']}<|im_end|>\n<|im_start|>assistant\n")
    assert "pranks with a pen" not in text
    for e in encoded:
        assert len(e.prompt_ids) + max(len(e.chosen_ids), len(e.rejected_ids)) <= 128
        assert tok.decode(e.chosen_ids[-2:]) == tok.decode(e.rejected_ids[-2:]) == "<|im_end|>\n"
    assert encoder.stats["prompt_truncated"] > 0  # multi-turn HH dialogues exceed 128 tokens
    first = dict(encoder.stats)
    encoder.encode_all(pairs[:10])  # a second call counts only its own pairs
    assert encoder.stats["prompt_truncated"] <= 10 < first["prompt_truncated"]
