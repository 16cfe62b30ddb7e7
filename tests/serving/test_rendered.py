"""Splitting rendered conversations (OpenRLHF queries) into prompt and response."""

from __future__ import annotations

import pytest

from rewardkit.data.encoding import PromptRenderer
from rewardkit.serving.rendered import RenderedQuerySplitter, assistant_header, strip_tokens
from rewardkit.testing.tiny import tiny_tokenizer

CONVERSATION = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "What is 2+2?"},
]


def test_strip_tokens_removes_repeats_at_the_edges_only():
    assert strip_tokens("<p><p>a<p>b</s><p></s>", ["<p>"], ["<p>", "</s>"]) == "a<p>b"
    assert strip_tokens("abc", [""], [""]) == "abc"


def test_chat_template_split_is_at_the_last_assistant_header():
    tok = tiny_tokenizer()
    renderer = PromptRenderer(tok)
    assert assistant_header(renderer) == ("<|im_start|>assistant\n", "")
    prompt = renderer.prompt_text(CONVERSATION)
    splitter = RenderedQuerySplitter(tok, renderer)
    pad, eos = tok.pad_token, tok.eos_token
    assert splitter.split(pad + prompt + "4, of course." + eos + pad) == (prompt, "4, of course.")
    # a whole conversation's render ends with the template's closing text, which is removed too
    whole = renderer.conversation_text(CONVERSATION, "4, of course.\n")
    assert splitter.split(whole) == (prompt, "4, of course.\n")
    assert splitter.split(prompt) == (prompt, "")
    with pytest.raises(ValueError, match="no assistant turn"):
        splitter.split("<|im_start|>user\nHi<|im_end|>\n")


def test_plain_template_split_removes_the_space_before_the_response():
    tok = tiny_tokenizer(chat_template=False)
    renderer = PromptRenderer(tok)
    prompt = renderer.prompt_text(CONVERSATION)
    assert prompt.endswith("\n\nAssistant:")
    text = prompt + renderer.response_text("Four.") + tok.eos_token
    assert RenderedQuerySplitter(tok, renderer).split(text) == (prompt, "Four.")


def test_template_without_generation_prompt_cannot_split():
    tok = tiny_tokenizer()
    tok.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(ValueError, match="generation prompt"):
        RenderedQuerySplitter(tok, PromptRenderer(tok))
