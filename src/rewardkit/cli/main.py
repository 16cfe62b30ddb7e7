"""`rewardkit <command>`: one module per command, each with add_arguments(parser) and run(args)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

COMMANDS = {
    "train": "rewardkit.cli.train",
    "eval": "rewardkit.cli.evaluate",
    "score": "rewardkit.cli.score",
    "quickstart": "rewardkit.cli.quickstart",
}


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rewardkit", description="Train, evaluate and use reward models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
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
