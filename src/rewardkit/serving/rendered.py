"""Split a conversation that arrives already rendered as one string (OpenRLHF's `query`) into prompt and response.

A rendered query is `prompt rendered with the chat template and its generation prompt` + `response`,
possibly left-padded and ending with EOS / padding tokens or with the template's closing tokens (a whole
conversation's render, as verl sends to /classify and /v1/embeddings). The split is made at the last assistant
header (what the template's generation prompt adds, e.g. "<|im_start|>assistant\\n"; "\\n\\nAssistant:" for
rewardkit's plain template); the two parts are then encoded like a (prompt, response) item
(`PromptRenderer.encode_rendered`: the whole conversation's render, reward at its last token), so both paths give
the same token ids, hence the same reward, and DPO / HaF models get the response tokens their implicit reward
needs.
"""

from __future__ import annotations

from typing import Any

from rewardkit.data.encoding import PROBE_PROMPT, PromptRenderer


def assistant_header(renderer: PromptRenderer) -> tuple[str, str]:
    """(header that opens the assistant's turn, text the template puts between it and a response).

    Raises ValueError when the chat template's generation prompt cannot be isolated.
    """
    probe = [{"role": "user", "content": PROBE_PROMPT}]
    with_prompt = renderer.render(probe, add_generation_prompt=True)
    without = renderer.render(probe, add_generation_prompt=False)
    header = with_prompt[len(without) :] if with_prompt.startswith(without) else ""
    if not header.strip():
        raise ValueError(
            "the chat template adds no recognisable generation prompt, so a rendered query cannot "
            "be split into prompt and response; send (prompt, response) items to /score instead"
        )
    return header, renderer.response_prefix


def strip_tokens(text: str, leading: list[str], trailing: list[str]) -> str:
    """Remove repeated occurrences of the given token strings from the start / end of `text`."""
    changed = True
    while changed:
        changed = False
        for token in leading:
            if token and text.startswith(token):
                text, changed = text[len(token) :], True
    changed = True
    while changed:
        changed = False
        for token in trailing:
            if token and text.endswith(token):
                text, changed = text[: -len(token)], True
    return text


class RenderedQuerySplitter:
    """Rendered conversation → (prompt text, response text); left padding and trailing EOS / padding / the
    template's closing text removed."""

    def __init__(self, tokenizer: Any, renderer: PromptRenderer):
        self.header, self.response_prefix = assistant_header(renderer)
        self.leading = [t for t in (tokenizer.pad_token,) if t]
        closing = renderer.response_closing if renderer.response_closing.strip() else ""
        ends = {tokenizer.pad_token, tokenizer.eos_token, closing}
        self.trailing = sorted((t for t in ends if t), key=len, reverse=True)  # "<|im_end|>\n" before "<|im_end|>"

    def split(self, text: str) -> tuple[str, str]:
        """Raises ValueError when the text has no assistant turn."""
        text = strip_tokens(text, self.leading, self.trailing)
        cut = text.rfind(self.header)
        if cut < 0:
            raise ValueError(
                f"no assistant turn found: expected the header {self.header!r} that the model's chat "
                f"template puts before a response"
            )
        end = cut + len(self.header)
        prompt_text, response = text[:end], text[end:]
        if self.response_prefix and response.startswith(self.response_prefix):
            response = response[len(self.response_prefix) :]
        return prompt_text, response
