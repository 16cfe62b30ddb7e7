"""Atomic writes: the target holds the old content or the new, never a part; no temporaries are left."""

import json

import pytest

from rewardkit.files import atomic_path, write_json_atomic, write_jsonl_atomic, write_text_atomic


def test_write_json_atomic_creates_parents_and_ends_with_newline(tmp_path):
    with pytest.raises(TypeError, match="PosixPath"):  # strict unless told how to convert
        write_json_atomic(tmp_path / "a" / "b" / "r.json", {"when": tmp_path})
    path = write_json_atomic(tmp_path / "a" / "b" / "r.json", {"x": 1, "when": tmp_path}, indent=None, default=str)
    text = path.read_text()
    assert text == json.dumps({"x": 1, "when": str(tmp_path)}) + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "results.md", "old\n")
    with pytest.raises(RuntimeError, match="killed"), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]


def test_unencodable_value_raises_before_the_target_changes(tmp_path):
    target = write_json_atomic(tmp_path / "r.json", {"ok": True})
    circular: list = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular"):
        write_json_atomic(target, {"bad": circular})
    assert json.loads(target.read_text()) == {"ok": True}


def test_jsonl_streams_records_and_a_failing_source_keeps_the_old_file(tmp_path):
    target = write_jsonl_atomic(tmp_path / "samples.jsonl", ({"i": i, "text": "ü"} for i in range(3)))
    assert target.read_text(encoding="utf-8") == "".join(f'{{"i": {i}, "text": "ü"}}\n' for i in range(3))

    def records():
        yield {"i": 0}
        raise RuntimeError("scoring failed")

    with pytest.raises(RuntimeError, match="scoring failed"):
        write_jsonl_atomic(target, records())
    assert target.read_text(encoding="utf-8").count("\n") == 3
    assert [p.name for p in tmp_path.iterdir()] == ["samples.jsonl"]
