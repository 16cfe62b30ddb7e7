"""Command lines for tests and benchmarks that run `rewardkit` (in process or as a subprocess)."""

from __future__ import annotations

from typing import Any


def cli_args(command: str, **options: Any) -> list[str]:
    """A `rewardkit` argument list: `--key value` per option (underscores for dashes); True gives a bare flag,
    None or False leaves the option out."""
    args = [command]
    for key, value in options.items():
        if value is None or value is False:
            continue
        args.append(f"--{key.replace('_', '-')}")
        if value is not True:
            args.append(str(value))
    return args
