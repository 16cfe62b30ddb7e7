"""Dataclass configs ↔ YAML ↔ command-line flags, generically.

A config is a dataclass whose fields are either leaves (str, int, float, bool, lists, Optional of those)
or nested dataclass sections. Every leaf gets a flag named after it (`--max-length`); a section may
rename a flag through `FLAG_NAMES` on the root class (e.g. model.name → `--model`). YAML files hold the
same structure; flags override YAML; `--set section.key=value` reaches anything.

Field metadata is the single source of a flag's help: declare leaves with `option(default, "one sentence",
choices=CONSTANT)`; the help text, the allowed values (argparse choices, listed in --help) and the default all
come from it. A subclass that only changes a default inherits the help and choices of the field it overrides.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from rewardkit.files import write_text_atomic

T = TypeVar("T")


class ConfigError(ValueError):
    pass


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    choices: Sequence[Any] | None = None,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A config field carrying its CLI help (one sentence) and, for enums, its allowed values.

    `factory` instead of `default` for mutable defaults (lists). `choices` should be the module constant the
    field is validated against, so that new values show up in --help by themselves."""
    metadata: dict[str, Any] = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def field_meta(cls: type, f: dataclasses.Field) -> dict[str, Any]:
    """The help metadata of `f`, inherited from the first class in the MRO that declares it (a subclass that only
    changes a default keeps its parent's help and choices)."""
    if f.metadata.get("help"):
        return dict(f.metadata)
    for base in cls.__mro__[1:]:
        inherited = getattr(base, "__dataclass_fields__", {}).get(f.name)
        if inherited is not None and inherited.metadata.get("help"):
            return dict(inherited.metadata)
    return dict(f.metadata)


def _leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dataclasses.Field, Any]]:
    return [(path, f, tp) for path, f, tp, _ in _described_leaves(cls, prefix)]


def _described_leaves(
    cls: type, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], dataclasses.Field, Any, dict[str, Any]]]:
    """Every leaf of a (nested) config: path, field, type and help metadata."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(_described_leaves(tp, prefix + (f.name,)))
        else:
            out.append((prefix + (f.name,), f, tp, field_meta(cls, f)))
    return out


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else rest), True
    return tp, False


def _scalar_parser(tp: Any, optional: bool, choices: tuple[Any, ...] | None = None) -> Any:
    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null"):
            return None
        if isinstance(tp, list):  # a union such as list[str] | str: YAML-parse the text
            value = yaml.safe_load(text)
        elif tp is bool:
            value = text.lower() in ("1", "true", "yes", "on")
        elif tp in (int, float, str):
            value = tp(text)
        else:
            value = yaml.safe_load(text)
        if choices is not None and value not in choices:
            raise argparse.ArgumentTypeError(f"invalid choice {text!r} (choose from {', '.join(map(str, choices))})")
        return value

    return parse


def _choices_metavar(choices: tuple[Any, ...], optional: bool) -> str:
    return "{" + ",".join(map(str, choices + (("none",) if optional else ()))) + "}"


def flag_name(path: tuple[str, ...], renames: dict[str, str]) -> str:
    dotted = ".".join(path)
    return renames.get(dotted, path[-1]).replace("_", "-")


def add_config_flags(parser: argparse.ArgumentParser, cls: type, renames: dict[str, str] | None = None) -> None:
    """Add one flag per leaf of `cls` (default None: unset flags leave YAML/defaults alone)."""
    renames = renames or getattr(cls, "FLAG_NAMES", {})
    seen: dict[str, str] = {}
    for path, f, tp, meta in _described_leaves(cls):
        name = flag_name(path, renames)
        dotted = ".".join(path)
        if name in seen:
            raise ConfigError(f"flag --{name} would name both {seen[name]} and {dotted}; add a FLAG_NAMES entry")
        seen[name] = dotted
        base, optional = _unwrap_optional(tp)
        choices = meta.get("choices")
        described = meta.get("help") or dotted
        help_text = f"{described} [{dotted}; default: {_default_repr(f)}]".replace("%", "%%")
        metavar = _choices_metavar(choices, optional) if choices else path[-1].upper()
        if base is bool:
            parser.add_argument(
                f"--{name}", dest=dotted, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif typing.get_origin(base) is list:
            (item,) = typing.get_args(base) or (str,)
            parser.add_argument(
                f"--{name}",
                dest=dotted,
                nargs="+",
                type=_scalar_parser(item, False, choices),
                default=None,
                help=help_text,
                metavar=metavar,
            )
        else:
            parser.add_argument(
                f"--{name}",
                dest=dotted,
                type=_scalar_parser(base, optional, choices),
                default=None,
                help=help_text,
                metavar=metavar,
            )
    parser.add_argument(
        "--config",
        dest="_config",
        default=None,
        metavar="FILE",
        help="YAML file with the same sections and keys; flags override it",
    )
    parser.add_argument(
        "--set",
        dest="_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set training.learning_rate=1e-4 (repeatable)",
    )


def _default_repr(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return repr(f.default_factory())  # type: ignore[misc]
    return "required"


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "config") -> T:
    """Build a (nested) dataclass from a dict, rejecting unknown keys with their location."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a mapping, got {type(value).__name__}")
            kwargs[key] = from_dict(tp, value, f"{where}.{key}")
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {p} is not a section")
    node[parts[-1]] = value


def load_config(cls: type[T], args: argparse.Namespace | None = None, path: str | Path | None = None) -> T:
    """Defaults < YAML file (`--config` or `path`) < flags < `--set` overrides."""
    data: dict[str, Any] = {}
    file = path or (getattr(args, "_config", None) if args is not None else None)
    if file:
        loaded = yaml.safe_load(Path(file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: a config file must be a mapping of sections")
        data = loaded
    if args is not None:
        for key, value in vars(args).items():
            if key.startswith("_") or value is None or "." not in key and not _is_leaf(cls, key):
                continue
            _set_dotted(data, key, value)
        for item in getattr(args, "_set", []) or []:
            if "=" not in item:
                raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
            key, raw = item.split("=", 1)
            _set_dotted(data, key, yaml.safe_load(raw))
    return from_dict(cls, data)


def _is_leaf(cls: type, key: str) -> bool:
    return any(".".join(p) == key for p, _, _ in _leaves(cls))


def save_config(config: Any, path: str | Path) -> None:
    write_text_atomic(path, yaml.safe_dump(to_dict(config), sort_keys=False))
