"""Finiteness checks: nothing non-finite (NaN, ±inf) is saved, exported or emitted as a reward.

`NonFiniteError` is what a refusal raises; the CLI reports it as `rewardkit <command>: error: ...` (status 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class NonFiniteError(ValueError):
    """A number that must be finite is not (a diverged loss, NaN weights, a NaN reward)."""


def non_finite_tensors(tensors: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or ±inf (meta tensors are skipped)."""
    import torch

    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    bad = []
    for name, tensor in items:
        if tensor.is_floating_point() and tensor.device.type != "meta" and not bool(torch.isfinite(tensor).all()):
            bad.append(name)
    return bad


def check_finite_weights(tensors: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]], what: str) -> None:
    """Raise NonFiniteError naming the first tensors with NaN / inf values; `what` says what was refused."""
    bad = non_finite_tensors(tensors)
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise NonFiniteError(
            f"{what}: {len(bad)} weight tensor(s) hold NaN or inf values ({shown}); the training "
            f"run diverged (lower the learning rate, check the data's margins and scores)"
        )


def first_non_finite(values: Iterable[Any]) -> int | None:
    """Index of the first value that is not a finite number, or None."""
    for i, value in enumerate(values):
        if not math.isfinite(value):
            return i
    return None
