"""`rewardkit <command>`: one module per command in this package, each defining HELP, add_arguments(parser)
and run(args) (helper modules start with "_"). A module is a command when it defines those three; its name
(underscores as dashes) is the command name unless it sets COMMAND. ORDER only fixes how `rewardkit --help`
lists them."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

ORDER = ["quickstart", "train", "eval", "score"]


def discover_commands() -> dict[str, object]:
    import pkgutil

    import rewardkit.cli as package

    commands = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name == "main" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"rewardkit.cli.{info.name}")
        if all(hasattr(module, a) for a in ("HELP", "add_arguments", "run")):
            commands[getattr(module, "COMMAND", info.name.replace("_", "-"))] = module
    rank = {name: i for i, name in enumerate(ORDER)}
    return dict(sorted(commands.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "urllib3", "filelock", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Parser(argparse.ArgumentParser):
    """argparse without prefix abbreviations (`--token X` must not become `--token-file X`), whose error for
    unknown arguments names the flags but never echoes values (they may be secrets). Subparsers inherit it."""

    def __init__(self, *args: object, **kwargs: object):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands: dict[str, argparse.ArgumentParser] = {}

    def parse_args(
        self, args: list[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            flags = [a.split("=", 1)[0] for a in extra if a.startswith("-")]
            values = len(extra) - len(flags)
            shown = " ".join(flags) + (f" and {values} value(s), not shown" if values else "")
            self.commands.get(getattr(parsed, "command", None), self).error(f"unrecognized arguments: {shown}")
        return parsed


def build_parser() -> Parser:
    parser = Parser(prog="rewardkit", description="Train, evaluate and use reward models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in discover_commands().items():
        p = sub.add_parser(
            name, help=module.HELP, description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(p)
        p.set_defaults(func=module.run)
        parser.commands[name] = p
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from rewardkit.config import ConfigError
    from rewardkit.data.record import DataError
    from rewardkit.finite import NonFiniteError
    from rewardkit.models.registry import ModelResolutionError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, DataError, ModelResolutionError, NonFiniteError, FileNotFoundError) as e:
        print(f"rewardkit {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
