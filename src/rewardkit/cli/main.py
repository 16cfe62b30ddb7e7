"""`rewardkit <command>`: one module per command in this package, each defining HELP, add_arguments(parser)
and run(args) (helper modules start with "_"). A module is a command when it defines those three; its name (underscores as dashes) is the
command name unless it sets COMMAND. ORDER only fixes how `rewardkit --help` lists them."""

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
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rewardkit", description="Train, evaluate and use reward models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in discover_commands().items():
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from rewardkit.config import ConfigError
    from rewardkit.data.record import DataError
    from rewardkit.models.registry import ModelResolutionError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, DataError, ModelResolutionError, FileNotFoundError) as e:
        print(f"rewardkit {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
