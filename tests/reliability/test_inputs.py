"""Every bad input is a named error (`rewardkit <command>: error: <file>, record <n>, field '<x>': <why>`, status 2),
never a traceback; empty inputs say so; secrets are never echoed; flags are never abbreviated."""

from __future__ import annotations

import gzip
import json

import pytest

from rewardkit.cli.main import main
from rewardkit.testing.tiny import arithmetic_rows

ITEMS = [{"prompt": "What is 2+2?", "response": "4"}, {"prompt": "Say hi", "response": "Hi!"}]


def jsonl(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def score(model, source, out, capsys) -> tuple[int, str]:
    status = main(["score", "--model", str(model), "--input", str(source), "--output", str(out)])
    return status, capsys.readouterr().err


def test_gzipped_input_is_read_whatever_its_name(tiny_rm_dir, tmp_path, capsys):
    plain, zipped = tmp_path / "plain.jsonl", tmp_path / "zipped.jsonl"
    plain.write_bytes(jsonl(ITEMS))
    zipped.write_bytes(gzip.compress(jsonl(ITEMS)))
    assert score(tiny_rm_dir, plain, tmp_path / "a.jsonl", capsys)[0] == 0
    assert score(tiny_rm_dir, zipped, tmp_path / "b.jsonl", capsys)[0] == 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


@pytest.mark.parametrize(
    "content, message",
    [
        (
            jsonl(ITEMS[:1]) + b'{"prompt": "caf\xe9", "response": "x"}\n',
            "record 1: not UTF-8 text (byte 0xe9 at position 15)",
        ),
        (
            jsonl(ITEMS[:1]) + b'{"prompt": "a", "response": "\\ud800"}\n',
            "record 1, field 'response': not valid Unicode text (surrogates not allowed at character 0)",
        ),
        (
            b'\n{"prompt": [{"role": "user", "content": "x\\udfff"}], "response": "b"}\n',
            "record 1, field 'prompt': not valid Unicode text",
        ),
        (
            jsonl(ITEMS[:1]) + b'{"prompt": "a", "response": "b", "weight": NaN}\n',
            "record 1: invalid JSON (NaN is not a JSON",
        ),
        (gzip.compress(jsonl(ITEMS))[:-12], "cannot read the gzip stream"),
        (b"", "no records: the input is empty"),
        (b"\n \n\n", "no records: the input is empty"),
    ],
)
def test_bad_score_input_is_a_named_error_and_nothing_is_written(tiny_rm_dir, tmp_path, capsys, content, message):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(content)
    status, err = score(tiny_rm_dir, source, out, capsys)
    assert status == 2 and f"rewardkit score: error: {source}" in err and message in err, err
    assert not out.exists()


def test_a_lone_surrogate_in_training_data_is_named(tiny_model_dir, tmp_path, capsys):
    rows = arithmetic_rows(4)
    rows[2]["chosen"] = "\ud83d"
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    assert (
        main(["train", "--model", str(tiny_model_dir), "--train", str(data), "--output-dir", str(tmp_path / "run")])
        == 2
    )
    assert f"{data}, record 2, field 'chosen': not valid Unicode text" in capsys.readouterr().err


def test_a_mistyped_flag_never_becomes_another_nor_echoes_its_value(capsys):
    secret = "sk-do-not-print-me-0123456789"
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--model", "m", "--token", secret])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and secret not in err
    assert "rewardkit serve: error: unrecognized arguments: --token and 1 value(s), not shown" in err, err
    with pytest.raises(SystemExit):
        main(["serve", "--model", "m", f"--token={secret}"])
    assert secret not in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a prefix of --max-length is not --max-length
        main(["score", "--model", "m", "--max-len", "10"])
    assert "unrecognized arguments: --max-len" in capsys.readouterr().err


def test_a_token_file_path_is_never_echoed(tmp_path, capsys):
    secret = "sk-pasted-as-a-path-0123456789"
    assert main(["serve", "--model", "m", "--token-file", secret]) == 2
    err = capsys.readouterr().err
    assert "rewardkit serve: error: token_file: no such file" in err and secret not in err


@pytest.mark.parametrize("std", ["1e-320", "0", "nan"])
def test_a_degenerate_normalisation_std_is_refused(capsys, std):
    assert main(["serve", "--model", "m", "--norm-mean", "0", "--norm-std", std]) == 2
    assert "norm_std must be a finite number >= 1e-06" in capsys.readouterr().err
