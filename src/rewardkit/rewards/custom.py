"""A reward component from a user's Python callable, named by a dotted path.

    kind: callable
    target: my_package.rewards:politeness      # or my_package.rewards.politeness
    options: {lexicon: polite.txt}             # keyword arguments for every call

The callable gets `(prompts, responses, **options)` and, when its signature accepts it, `metas=`; it returns
one number per response. A target that is a class is instantiated with the options and must then be callable
that way itself (options are not passed again).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardkit.rewards.base import Messages, check_batch


def import_target(target: str) -> Any:
    """The object at "pkg.module:attr" or "pkg.module.attr"."""
    if ":" in target:
        module_name, attr = target.split(":", 1)
    elif "." in target:
        module_name, attr = target.rsplit(".", 1)
    else:
        raise ValueError(f"callable target {target!r} must be a dotted path such as 'pkg.module:function'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"callable target {target!r}: cannot import module {module_name!r} ({e})") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"callable target {target!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _accepts_metas(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "metas" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@dataclass
class CallableReward:
    """A reward component calling a user function (see the module docstring)."""

    target: str
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        obj = import_target(self.target)
        if inspect.isclass(obj):
            self.fn: Callable[..., Any] = obj(**self.options)
            self.call_options: dict[str, Any] = {}
        else:
            self.fn, self.call_options = obj, dict(self.options)
        if not callable(self.fn):
            raise ValueError(f"callable target {self.target!r} is not callable")
        self.name = self.name or self.target.replace(":", ".").rsplit(".", 1)[-1]
        self.pass_metas = _accepts_metas(self.fn)

    def score(
        self, prompts: Sequence[Messages], responses: Sequence[str], metas: Sequence[dict[str, Any]] | None = None
    ) -> list[float]:
        check_batch(prompts, responses, metas, self.name)
        kwargs = dict(self.call_options)
        if self.pass_metas:
            kwargs["metas"] = metas
        values = list(self.fn(list(prompts), list(responses), **kwargs))
        if len(values) != len(responses):
            raise ValueError(
                f"reward {self.name} ({self.target}) returned {len(values)} values for {len(responses)} responses"
            )
        out = []
        for i, v in enumerate(values):
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"reward {self.name} ({self.target}): value {i} is not a number: {v!r}") from None
            if not math.isfinite(f):
                raise ValueError(f"reward {self.name} ({self.target}): value {i} is not finite: {f}")
            out.append(f)
        return out
