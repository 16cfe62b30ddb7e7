"""Character budgets: texts are cut before they are tokenized, so no input costs more than `max_length` tokens'
worth of tokenizer work (a 50 MB record is as cheap as one that fills the context).

One token covers at most `longest_token_chars(tokenizer)` characters (the longest string in the vocabulary,
special tokens included; byte-level tokens count their bytes, which is at least the characters they cover).
So a text of more than `char_budget = max_length x that` characters has more than max_length tokens and is
truncated anyway, and a text that fits is never cut: its token ids are exactly those of the uncut text.
Cut texts keep what truncation keeps: a response its beginning, a prompt its latest text. (Assumption: the
tokenizer and chat template do not delete characters; a normaliser or template that strips long runs of
whitespace could, in principle, make a text that was cut have fitted.)
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from rewardkit.data.record import Message

_LONGEST: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def longest_token_chars(tokenizer: Any) -> int | None:
    """Characters of the longest token string of `tokenizer` (cached per tokenizer); None if it has no vocabulary."""
    try:
        return _LONGEST[tokenizer]
    except (KeyError, TypeError):
        pass
    get_vocab = getattr(tokenizer, "get_vocab", None)
    vocab = list(get_vocab()) if get_vocab else []
    vocab += list(getattr(tokenizer, "all_special_tokens", None) or [])
    if not vocab:
        return None
    longest = max(len(token) for token in vocab)
    with contextlib.suppress(TypeError):  # not weak-referenceable: no cache
        _LONGEST[tokenizer] = longest
    return longest


def char_budget(tokenizer: Any, max_length: int) -> int | None:
    """Characters beyond which a text certainly has more than `max_length` tokens (None: no bound known)."""
    longest = longest_token_chars(tokenizer)
    return None if longest is None else max_length * longest


def bound_response(text: str, budget: int | None) -> str:
    """A response cut to its first `budget` characters (truncation keeps a response's first tokens)."""
    return text if budget is None or len(text) <= budget else text[:budget]


def bound_latest(text: str, budget: int | None) -> str:
    """A text cut to its last `budget` characters (a rendered prompt: truncation keeps its latest tokens)."""
    return text if budget is None or len(text) <= budget else text[-budget:]


def bound_prompt(messages: list[Message], budget: int | None) -> list[Message]:
    """Prompt messages cut to the latest `budget` characters of content, system messages and the rest apiece.

    Newest first, messages are kept until their content passes `budget` characters; the message that passes it
    keeps its latest `budget` characters and older ones are dropped. A prompt that fits is unchanged. One that
    does not still does not fit, and the text prompt truncation keeps (whole latest turns that fit, or the
    latest tokens of the conversation) lies within what is kept: the truncation result is unchanged.
    """
    if budget is None or sum(len(m["content"]) for m in messages) <= budget:
        return messages
    keep: dict[int, str] = {}
    for is_system in (True, False):  # truncation drops old turns but always keeps the system messages
        used = 0
        for i in reversed(range(len(messages))):
            if (messages[i]["role"] == "system") != is_system:
                continue
            content = messages[i]["content"]
            keep[i] = content[-(budget - used) :] if used + len(content) > budget else content
            used += len(content)
            if used >= budget:
                break
    return [{"role": messages[i]["role"], "content": keep[i]} for i in sorted(keep)]
