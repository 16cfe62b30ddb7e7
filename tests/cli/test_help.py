"""CLI help comes from the config dataclasses' field metadata: every flag of every command says what it does, and
enum flags list their allowed values, taken from the module constants they are validated against."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from rewardkit.cli.main import build_parser, main
from rewardkit.config import _described_leaves, add_config_flags, option
from rewardkit.models.reward_model import TUNING_MODES
from rewardkit.objectives.losses import POLICY_LOSSES
from rewardkit.objectives.objective import OBJECTIVES, PRIORS, REFERENCE_MODES


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_flag_of_every_command_has_help_text():
    undocumented = [
        (name, action.option_strings)
        for name, parser in commands().items()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction) and (not action.help or action.help.startswith("["))
    ]  # "[key; default]" alone: no sentence
    assert undocumented == []


def test_enum_flags_show_and_enforce_their_choices():
    for name, parser in commands().items():
        for action in parser._actions:
            if action.option_strings and action.metavar and str(action.metavar).startswith("{"):
                assert action.help, (name, action.option_strings)
    text = commands()["train"].format_help()
    for flag, values in (
        ("--objective", OBJECTIVES),
        ("--prior", PRIORS + ("none",)),
        ("--tuning", TUNING_MODES),
        ("--policy-loss", POLICY_LOSSES),
        ("--reference", REFERENCE_MODES),
    ):
        assert f"{flag} {{{','.join(values)}}}" in text, flag


def test_train_help_is_readable_without_the_source(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "PCRM prior-constraint similarity" in out and "[objective.prior; default: None]" in out
    assert "Which parameters train" in out


def test_a_value_outside_the_choices_is_refused_naming_them(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--objective", "ppo"])
    assert "invalid choice 'ppo' (choose from bt, haf, dpo" in capsys.readouterr().err


def test_a_subclass_changing_a_default_keeps_the_help_and_choices():
    @dataclasses.dataclass
    class Base:
        mode: str = option("a", "Which mode.", choices=("a", "b"))

    @dataclasses.dataclass
    class Child(Base):
        mode: str = "b"

    ((_, _, _, meta),) = _described_leaves(Child)
    assert meta == {"help": "Which mode.", "choices": ("a", "b")}
    parser = argparse.ArgumentParser()
    add_config_flags(parser, Child)
    assert "Which mode. [mode; default: 'b']" in parser.format_help()
    assert parser.parse_args(["--mode", "a"]).mode == "a"
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])
