"""Every config the README and docs cite exists and loads; every `rewardkit ...` command in README.md parses
(argument level, plus the full config resolution for train commands), without training anything."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rewardkit.cli.main import build_parser
from rewardkit.config import load_config
from rewardkit.training.config import RunConfig

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

METHOD_CONFIGS = {  # config -> objective fields it must set
    "bt": {"objective": "bt", "prior": None},
    "haf": {"objective": "haf", "alpha": 0.2, "beta": 0.1, "policy_loss": "sigmoid"},
    "grm": {"objective": "haf", "alpha": 0.01, "beta": 0.1, "policy_loss": "sft"},
    "dpo": {"objective": "dpo", "beta": 0.1},
    "pcrm": {"objective": "bt", "prior": "length"},
}


@pytest.mark.parametrize("name", sorted(METHOD_CONFIGS))
def test_method_configs_load(name):
    cfg = load_config(RunConfig, path=REPO / "configs" / f"{name}.yaml")
    for key, value in METHOD_CONFIGS[name].items():
        assert getattr(cfg.objective, key) == value, (name, key)
    if cfg.objective.objective != "bt":  # policy terms train the untied LM-head copy (SmolLM2 ties it)
        assert cfg.model.untie_lm_head


def test_every_cited_config_exists():
    cited = {m for doc in DOCS for m in re.findall(r"configs/[A-Za-z0-9_./-]+\.ya?ml", doc.read_text())}
    assert "configs/haf.yaml" in cited
    missing = sorted(c for c in cited if not (REPO / c).is_file())
    assert not missing, f"cited but missing: {missing}"


def readme_commands() -> tuple[list[str], list[str]]:
    """(full command lines of README.md's code blocks (continuations joined, comments and what precedes a pipe
    dropped), commands named in inline code such as `rewardkit eval --suite standard`)."""
    text = (REPO / "README.md").read_text()
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    full = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].split("|")[-1].strip()
            if line.startswith("rewardkit "):
                full.append(line)
    named = {c.replace("\\|", "|").split("|")[0].strip() for c in re.findall(r"`(rewardkit [^`]+)`", text)}
    return sorted(set(full)), sorted(named - set(full))


def test_readme_commands_parse(monkeypatch, capsys):
    full, named = readme_commands()
    assert any("configs/haf.yaml" in c for c in full) and len(full) >= 5 and len(named) >= 8
    monkeypatch.chdir(REPO)  # the README's relative paths (configs/...) are relative to the repository root
    parser = build_parser()
    for command in full:
        args = parser.parse_args(shlex.split(command)[1:])
        if args.command == "train":
            cfg = load_config(RunConfig, args)  # the YAML file, flags and --set resolve to a valid config
            assert cfg.training.output_dir
    for command in named:  # named in prose: the command and its options exist (--help level)
        argv = [a for a in shlex.split(command)[1:] if not a.startswith("<")]
        if not argv:
            argv = ["train"]
        with pytest.raises(SystemExit) as done:
            parser.parse_args(argv + ["--help"])
        assert done.value.code == 0, command
    capsys.readouterr()


ABSOLUTE = re.compile(r"""["'`(\s=]/(?:work|root|home|tmp|Users|mnt|var|opt|scratch)/""")


def test_committed_results_and_docs_hold_no_absolute_path():
    files = [
        f
        for top in ("benchmarks/results", "docs")
        for f in (REPO / top).rglob("*")
        if f.is_file() and f.suffix in (".json", ".md", ".txt", ".yaml")
    ]
    assert files
    offenders = [
        f"{f.relative_to(REPO)}: {m.group(0)!r}"
        for f in files
        for m in [ABSOLUTE.search(f.read_text(errors="replace"))]
        if m
    ]
    assert not offenders, offenders
