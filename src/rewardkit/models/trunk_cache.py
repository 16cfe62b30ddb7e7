"""Frozen-trunk cache: with top_layers tuning, the bottom layers run once per pair, not once per step.

With `model.tuning=top_layers` the embeddings and the bottom `depth = n_layers - top_layers` decoder layers
are frozen, so the hidden states entering the first trainable layer are a pure function of the pair's tokens
in the shared-prefix packed layout (data/packing.py: block mask, per-pair position ids). `TrunkCache` keeps
them per pair (fp32, in memory; optionally one safetensors file per set of pairs on disk, keyed by the trunk's
weight fingerprint, depth, attention implementation and token ids). `TrunkStateCollator` lays them out like
`input_ids` as the batch's `trunk_states` (rows × T × hidden) with `trunk_depth`; `RewardModel.forward` then
runs only layers[depth:], the final norm and the heads (`top_hidden_states`).

Exactness: a pair never attends outside its own block, so its trunk states do not depend on the row it is
packed into (up to float summation order). `TrunkCache.ensure` compares the trunk path with the full forward
on a few pairs the first time a model uses the cache and raises past `SELF_CHECK_TOLERANCE`; a model whose
trunk weights differ from the cache's fingerprint (e.g. a checkpoint not trained from the same base) is refused.

Supported backbones: HF decoders with `.layers`, `.rotary_emb` and `.norm` (Llama, Qwen2, Mistral, ...).
Only packed batches (4D block masks) are supported; padded batches (data.packing=false) are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from rewardkit.data.encoding import EncodedPair
from rewardkit.data.packing import PackedPair, PackedPairCollator, shared_prefix_length
from rewardkit.files import write_atomic
from rewardkit.models.decoder import TrunkError, top_hidden_states, top_tensor_ids, trunk_parts
from rewardkit.models.loading import build_reward_model
from rewardkit.models.reward_model import ModelConfig, RewardModel

log = logging.getLogger("rewardkit.models")

TRUNK_STATES, TRUNK_DEPTH = "trunk_states", "trunk_depth"
PAIR_SLOTS = "pair_slots"
SELF_CHECK_TOLERANCE = 1e-4  # abs and rel, on rewards, log-probs and final hidden states
SELF_CHECK_PAIRS = 4
PairKey = tuple[tuple[int, ...], tuple[int, ...]]


# ---- the model's parts (models/decoder.py) ----------------------------------------------------------


def trunk_depth(model: RewardModel, top_layers: int) -> int:
    """How many bottom layers are frozen when the top `top_layers` train (as models/loading.py counts)."""
    if top_layers < 1:
        raise ValueError(f"top_layers must be >= 1 for a frozen-trunk cache, not {top_layers}")
    n = len(trunk_parts(model.base_backbone).layers)
    return n - min(top_layers, n)


def trunk_fingerprint(model: RewardModel, depth: int) -> str:
    """sha256 of every decoder tensor the trunk reads (all but layers[depth:] and the final norm): names,
    dtypes, shapes and bytes. Equal fingerprints mean equal trunk states for equal tokens."""
    parts = trunk_parts(model.base_backbone)
    skip = top_tensor_ids(parts, depth)
    h = hashlib.sha256(json.dumps([type(parts.decoder).__name__, depth]).encode())
    named = list(parts.decoder.named_parameters()) + list(parts.decoder.named_buffers())
    _hash_tensors(h, [(name, tensor) for name, tensor in named if id(tensor) not in skip])
    return h.hexdigest()[:24]


def _hash_tensors(h: Any, named: Iterable[tuple[str, torch.Tensor]]) -> None:
    """Feed names, dtypes, shapes and bytes of the tensors (sorted by name) into the hash `h`."""
    for name, tensor in sorted(named, key=lambda item: item[0]):
        data = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{data.dtype}:{tuple(data.shape)}".encode())
        h.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())


def layer_fingerprints(model: RewardModel) -> list[str]:
    """sha256 per part of the decoder, bottom up: [every tensor outside the layer stack and the final norm
    (embeddings, rotary buffers), layer 0, layer 1, ...] (names, dtypes, shapes and bytes). Two models with
    equal first k + 1 entries compute the same input to layer k (see `shared_trunk_depth`)."""
    parts = trunk_parts(model.base_backbone)
    inside = {id(t) for m in (*parts.layers, parts.norm) for t in (*m.parameters(), *m.buffers())}
    outside = [
        (n, t) for n, t in (*parts.decoder.named_parameters(), *parts.decoder.named_buffers()) if id(t) not in inside
    ]
    groups = [outside] + [[*layer.named_parameters(), *layer.named_buffers()] for layer in parts.layers]
    out = []
    for group in groups:
        h = hashlib.sha256()
        _hash_tensors(h, group)
        out.append(h.hexdigest()[:24])
    return out


def shared_trunk_depth(model: list[str], base: list[str]) -> int:
    """How many bottom layers two models share, from their `layer_fingerprints`: 0 when their embeddings
    differ, else the number of leading layers with equal weights (a top_layers checkpoint of `base` shares
    all but its trained layers)."""
    if not model or not base or model[0] != base[0]:
        return 0
    depth = 0
    for a, b in zip(model[1:], base[1:]):
        if a != b:
            break
        depth += 1
    return depth


# ---- forward passes -----------------------------------------------------------------------------------


class _TrunkReached(Exception):
    """Stops a forward pass at the first layer above the trunk."""


@torch.no_grad()
def compute_trunk_states(
    model: RewardModel,
    pairs: Sequence[EncodedPair],
    depth: int,
    *,
    batch_size: int = 16,
    row_tokens: int | None = 1024,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> list[torch.Tensor]:
    """Per pair: the (packed length × hidden) fp32 input of layers[depth], from the model's own forward
    (stopped there by a pre-hook, so embedding details such as scaling are the model's)."""
    parts = trunk_parts(model.base_backbone)
    if not 0 <= depth < len(parts.layers):
        raise TrunkError(f"trunk depth {depth} is outside the {len(parts.layers)} layers of the model")
    device = device or next(model.parameters()).device
    model.to(device)
    collate = PackedSlotCollator(pad_token_id=0, row_tokens=row_tokens)  # pad ids are masked: any valid id
    captured: list[torch.Tensor] = []

    def stop(_module: nn.Module, args: tuple, kwargs: dict) -> None:
        captured.append(args[0] if args else kwargs["hidden_states"])
        raise _TrunkReached

    order = sorted(range(len(pairs)), key=lambda i: pairs[i].num_tokens)
    out: list[torch.Tensor | None] = [None] * len(pairs)
    was_training = model.training
    model.eval()
    handle = parts.layers[depth].register_forward_pre_hook(stop, with_kwargs=True)
    try:
        for start in tqdm(range(0, len(order), batch_size), desc="frozen-trunk states", disable=not progress):
            chunk = order[start : start + batch_size]
            batch = collate([pairs[i] for i in chunk])
            with contextlib.suppress(_TrunkReached):
                model.hidden_states(
                    batch["input_ids"].to(device), batch["attention_mask"].to(device), batch["position_ids"].to(device)
                )
            hidden = captured.pop().float().cpu()
            for i, (row, offset, length) in zip(chunk, batch[PAIR_SLOTS].tolist()):
                out[i] = hidden[row, offset : offset + length].clone()
    finally:
        handle.remove()
        model.train(was_training)
    return out  # type: ignore[return-value]


# ---- collators ------------------------------------------------------------------------------------------


def pair_key(pair: EncodedPair | PackedPair) -> PairKey:
    """What trunk states depend on: the full chosen and rejected token sequences (they fix the layout)."""
    if isinstance(pair, PackedPair):
        return tuple(pair.chosen), tuple(pair.rejected)
    return tuple(pair.prompt_ids + pair.chosen_ids), tuple(pair.prompt_ids + pair.rejected_ids)


def packed_length_of(key: PairKey) -> int:
    """Tokens of a pair's packed layout, from its key (as PackedPair.length)."""
    chosen, rejected = key
    return len(chosen) + len(rejected) - shared_prefix_length(key)


class PackedSlotCollator(PackedPairCollator):
    """PackedPairCollator that also returns `pair_slots` (P, 3): row, offset and length of each pair."""

    def _layout(self, packed: list[PackedPair], rows: list[list[int]], width: int) -> dict[str, Any]:
        batch = super()._layout(packed, rows, width)
        slots = torch.zeros(len(packed), 3, dtype=torch.long)
        for r, row in enumerate(rows):
            offset = 0
            for k in row:  # pairs sit one after another in row order (PackedPairCollator._layout)
                slots[k] = torch.tensor([r, offset, packed[k].length])
                if batch["input_ids"][r, offset : offset + packed[k].length].tolist() != packed[k].tokens:
                    raise TrunkError("packed layout changed: pair tokens are not where trunk_cache expects them")
                offset += packed[k].length
        batch[PAIR_SLOTS] = slots
        return batch


class TrunkStateCollator(PackedSlotCollator):
    """Packed batches plus `trunk_states` (rows × T × hidden, fp32, zeros at padding) and `trunk_depth`."""

    def __init__(
        self, cache: TrunkCache, pad_token_id: int, row_tokens: int | None = 1024, pad_to_multiple_of: int | None = None
    ):
        super().__init__(pad_token_id, row_tokens, pad_to_multiple_of)
        self.cache = cache

    def __call__(self, features: list[EncodedPair]) -> dict[str, Any]:
        batch = super().__call__(features)
        slots = batch.pop(PAIR_SLOTS)
        rows, width = batch["input_ids"].shape
        states = torch.zeros(rows, width, self.cache.hidden_size(features), dtype=torch.float32)
        for feature, (row, offset, length) in zip(features, slots.tolist()):
            states[row, offset : offset + length] = self.cache.lookup(feature)
        batch[TRUNK_STATES] = states
        batch[TRUNK_DEPTH] = self.cache.depth
        return batch


# ---- the cache ----------------------------------------------------------------------------------------


class TrunkCache:
    """Trunk states per pair for one trunk (weight fingerprint + depth + attention implementation).

    directory: where sets of pairs are stored as safetensors files (None: memory only). Several runs or
    evaluations on the same base model share it; each file is written once, atomically.
    """

    def __init__(
        self, fingerprint: str, depth: int, attn_implementation: str | None, directory: str | Path | None = None
    ):
        self.fingerprint = fingerprint
        self.depth = depth
        self.attn_implementation = attn_implementation
        self.directory = Path(directory) if directory is not None else None
        self.states: dict[PairKey, torch.Tensor] = {}
        self._matching: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # models whose fingerprint matched
        self._checked: weakref.WeakSet[nn.Module] = weakref.WeakSet()  # models that passed the self-check

    def __getstate__(self) -> dict[str, Any]:  # data-loader workers (spawn) get the states, not the model sets
        return {k: v for k, v in self.__dict__.items() if k not in ("_matching", "_checked")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _matching=weakref.WeakSet(), _checked=weakref.WeakSet())

    @classmethod
    def for_model(cls, model: RewardModel, top_layers: int, directory: str | Path | None = None) -> TrunkCache:
        depth = trunk_depth(model, top_layers)
        cache = cls(trunk_fingerprint(model, depth), depth, model.config._attn_implementation, directory)
        cache._matching.add(model)
        return cache

    @classmethod
    def for_base_model(
        cls,
        name: str,
        top_layers: int,
        directory: str | Path | None = None,
        *,
        dtype: str = "float32",
        attn_implementation: str | None = "sdpa",
    ) -> TrunkCache:
        """The cache of a base model (alias, directory): checkpoints trained from it with top_layers tuning
        share its trunk, which `ensure` verifies on their weights."""
        base = build_reward_model(
            ModelConfig(
                name=name,
                tuning="top_layers",
                top_layers=top_layers,
                dtype=dtype,
                attn_implementation=attn_implementation,
            ),
            keep_lm_head=False,
        )
        return cls.for_model(base, top_layers, directory)

    # ---- use ------------------------------------------------------------------------------------------
    def check_model(self, model: RewardModel) -> None:
        """Refuse a model whose trunk weights or attention implementation differ from this cache's."""
        if model in self._matching:
            return
        attn = model.config._attn_implementation
        if attn != self.attn_implementation:
            raise TrunkError(
                f"the model uses attention {attn!r}, the trunk cache was built with {self.attn_implementation!r}"
            )
        found = trunk_fingerprint(model, self.depth)
        if found != self.fingerprint:
            raise TrunkError(
                f"the model's embeddings / bottom {self.depth} layers differ from the trunk cache's "
                f"(fingerprint {found} != {self.fingerprint}): it was not trained from the same base "
                "with the same top_layers, so cached trunk states would be wrong"
            )
        self._matching.add(model)

    def matches(self, model: RewardModel) -> bool:
        """Whether `model` has this cache's trunk (see check_model)."""
        try:
            self.check_model(model)
        except TrunkError:
            return False
        return True

    def ensure(
        self,
        model: RewardModel,
        pairs: Sequence[EncodedPair],
        *,
        batch_size: int = 16,
        row_tokens: int | None = 1024,
        device: torch.device | str | None = None,
        progress: bool = True,
    ) -> None:
        """Make the states of `pairs` available: from memory, the directory, or computed with `model` (whose
        trunk must match the fingerprint). The first time a model uses the cache, the trunk path is compared
        with its full forward."""
        self.check_model(model)
        if pairs:
            self._fill(model, pairs, batch_size, row_tokens, device, progress)
        if model not in self._checked and pairs:
            self.self_check(model, pairs[:SELF_CHECK_PAIRS], row_tokens, device)
            self._checked.add(model)

    def lookup(self, pair: EncodedPair) -> torch.Tensor:
        try:
            return self.states[pair_key(pair)]
        except KeyError:
            raise TrunkError(
                f"pair {pair.index}: no cached trunk states (TrunkCache.ensure was not called on "
                "the pairs this collator sees)"
            ) from None

    def hidden_size(self, features: Sequence[EncodedPair]) -> int:
        return self.lookup(features[0]).shape[-1]

    def collator(self, pad_token_id: int, row_tokens: int | None = 1024) -> TrunkStateCollator:
        return TrunkStateCollator(self, pad_token_id, row_tokens)

    # ---- storage ---------------------------------------------------------------------------------------
    def set_key(self, pairs: Iterable[EncodedPair]) -> str:
        h = hashlib.sha256(json.dumps([self.fingerprint, self.depth, self.attn_implementation]).encode())
        for p in pairs:
            h.update(json.dumps(pair_key(p)).encode())
        return h.hexdigest()[:24]

    def _fill(
        self,
        model: RewardModel,
        pairs: Sequence[EncodedPair],
        batch_size: int,
        row_tokens: int | None,
        device: torch.device | str | None,
        progress: bool,
    ) -> None:
        keys = [pair_key(p) for p in pairs]
        if all(k in self.states for k in keys):
            return
        file = self.directory / f"{self.set_key(pairs)}.safetensors" if self.directory else None
        if file is not None and file.exists():
            self._load(file, keys)
            return
        todo = sorted({k: i for i, k in enumerate(keys) if k not in self.states}.values())
        if todo:
            computed = compute_trunk_states(
                model,
                [pairs[i] for i in todo],
                self.depth,
                batch_size=batch_size,
                row_tokens=row_tokens,
                device=device,
                progress=progress,
            )
            self.states.update({keys[i]: s for i, s in zip(todo, computed)})
            log.info("frozen-trunk states: computed %d pairs (%d layers)", len(todo), self.depth)
        if file is not None:
            self._save(file, keys)

    def _save(self, file: Path, keys: list[PairKey]) -> None:
        flat = torch.cat([self.states[k] for k in keys])
        lengths = torch.tensor([self.states[k].shape[0] for k in keys], dtype=torch.long)
        metadata = {"fingerprint": self.fingerprint, "depth": str(self.depth)}
        write_atomic(file, lambda tmp: save_file({"states": flat, "lengths": lengths}, str(tmp), metadata=metadata))
        self._assign(flat, lengths, keys)  # views into one tensor: frees the per-pair copies
        log.info("frozen-trunk states: %d pairs cached at %s", len(keys), file)

    def _load(self, file: Path, keys: list[PairKey]) -> None:
        stored = load_file(str(file))
        flat, lengths = stored["states"], stored["lengths"]
        expected = [packed_length_of(key) for key in keys]
        if lengths.tolist() != expected:
            raise TrunkError(f"trunk cache file {file} does not match its pairs (lengths differ); delete it")
        self._assign(flat, lengths, keys)
        log.info("frozen-trunk states: reusing %s (%d pairs)", file, len(keys))

    def _assign(self, flat: torch.Tensor, lengths: torch.Tensor, keys: list[PairKey]) -> None:
        for key, part in zip(keys, torch.split(flat, lengths.tolist())):
            self.states[key] = part

    # ---- self-check ------------------------------------------------------------------------------------
    @torch.no_grad()
    def self_check(
        self,
        model: RewardModel,
        pairs: Sequence[EncodedPair],
        row_tokens: int | None = 1024,
        device: torch.device | str | None = None,
    ) -> None:
        """Raise TrunkError unless the trunk path gives the full forward's rewards, log-probs and final
        hidden states on `pairs` (within SELF_CHECK_TOLERANCE)."""
        device = device or next(model.parameters()).device
        batch = self.collator(pad_token_id=0, row_tokens=row_tokens)(list(pairs))
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        plain = {k: v for k, v in batch.items() if k not in (TRUNK_STATES, TRUNK_DEPTH)}
        was_training = model.training
        model.eval()
        try:
            need_logps = model.lm_head is not None
            full = model(**plain, need_rewards=True, need_logps=need_logps)
            fast = model(**batch, need_rewards=True, need_logps=need_logps)
            at_rewards = lambda h: h.reshape(-1, h.shape[-1])[batch["reward_positions"]]  # noqa: E731
            full["hidden"] = at_rewards(
                model.hidden_states(plain["input_ids"], plain["attention_mask"], plain["position_ids"])
            )
            fast["hidden"] = at_rewards(
                top_hidden_states(
                    model.base_backbone, batch[TRUNK_STATES], self.depth, batch["attention_mask"], batch["position_ids"]
                )
            )
        finally:
            model.train(was_training)
        for name in full:
            a, b = fast[name].float(), full[name].float()
            if not torch.allclose(a, b, atol=SELF_CHECK_TOLERANCE, rtol=SELF_CHECK_TOLERANCE):
                raise TrunkError(
                    f"frozen-trunk self-check failed: {name} differ from the full forward by up to "
                    f"{(a - b).abs().max().item():.3g} (tolerance {SELF_CHECK_TOLERANCE}); "
                    "set model.cache_trunk=false"
                )
        log.info("frozen-trunk self-check passed on %d pairs", len(pairs))


def prepare_trunk_collator(
    model: RewardModel,
    pairs: Sequence[EncodedPair],
    *,
    top_layers: int,
    pad_token_id: int,
    packing: bool,
    row_tokens: int | None,
    directory: str | Path | None = None,
    batch_size: int = 16,
    device: torch.device | str | None = None,
) -> TrunkStateCollator:
    """A training run's collator with trunk states for `pairs` (train + validation), computed or loaded."""
    if not packing:
        raise ValueError("model.cache_trunk needs packed batches (data.packing=true)")
    cache = TrunkCache.for_model(model, top_layers, directory)
    cache.ensure(model, pairs, batch_size=batch_size, row_tokens=row_tokens, device=device)
    return cache.collator(pad_token_id, row_tokens)
