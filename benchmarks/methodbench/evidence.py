"""The `evidence` preset: method comparisons built so that the papers' effects can show, or be shown absent.

Every comparison is between arms that differ in the objective only: the same base model, tuning scope (top k
decoder layers + the final norm + an untied trainable copy of the LM head, bottom layers and embeddings frozen
so the frozen-trunk cache serves every arm), reward-head init (zero, as HaF-RM; BT with the usual normal init is
its own arm), data, budget and seeds. Each scenario fixes the regime in which an effect has to appear:

  suite-a / suite-b   train on some task families of the built-in suite, test on held-out pairs of the same
                      families (ID) and on the other families (OOD), scored by the gold labels, test pairs
                      length-balanced (the chosen response is the longer one in half of them); a and b rotate
  hh-helpful / hh-harmless   single-turn HH pairs: train on one, test on the other (and on held-out pairs of
                      its own), length-balanced
  tldr                summarize-from-feedback: train on batch13, test on batch18 (+ the 5-pair edit set),
                      rank correlation of the margin with the labellers' confidence; DPO and PCRM-DPO (tight
                      policy bound) side by side
  pcrm                long training (10 epochs) on TL;DR batch13: PCRM with a tight length bound (delta*
                      inside BT's margin range), fixed / random delta* with the same mean, BT with the bound
                      tracked but not applied (prior_lambda 0); test metrics after every epoch, final and
                      best-validation checkpoints

The data are deterministic functions of the data root (`build_data`); run records live under
benchmarks/results/records/evidence/<scenario>/, the claims that read them in claims.py. Every record and test-set
manifest names its encoding (where the reward is read, presets.ENCODING); the records of the first sitting, made
before the chat-template contract (reward at an EOS appended to the bare response), are kept apart under
benchmarks/results/records/evidence-appended-eos/ and are never pooled with the current ones.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .presets import ENCODING, HH, LEGACY_ENCODING, RECORDS

EVIDENCE = "evidence"
EVIDENCE_GPU = "evidence-gpu"
EVIDENCE_RECORDS = RECORDS / EVIDENCE
RECORDS_GPU = RECORDS / EVIDENCE_GPU
EVIDENCE_LEGACY = f"{EVIDENCE}-{LEGACY_ENCODING.replace('_', '-')}"  # the records of the old encoding, kept apart
LEGACY_RECORDS = RECORDS / EVIDENCE_LEGACY

SUITE_F1 = ("relevance", "format", "harmlessness", "language")
SUITE_F2 = ("arithmetic", "factual", "conciseness")
TLDR = "summarize-from-feedback/comparisons"

# PCRM's tight bound (a documented deviation from the paper's b1 = 10, b3 = -5): delta* = b1 / (s + b2) + b3
# scaled so that delta*/2 spans the margins BT reaches here (see docs/results.md, "evidence")
TIGHT_REWARD = {"b1": 2.0, "b2": 0.001, "b3": -0.5}
TIGHT_POLICY = {"b1": 1.0, "b2": 0.001, "b3": -0.25}


LAYOUT_ONLY = ("row_tokens",)  # batch layout: the same numbers up to float summation order, not a setting


@dataclass(frozen=True)
class Scope:
    """How every arm of a scenario trains (the same for all)."""

    tuning: str = "top_layers"  # top_layers (CPU: a cached frozen trunk) | full (the GPU variant)
    top_layers: int = 2  # the top k of 30 decoder layers (+ final norm) train, the rest is a cached trunk
    untie_lm_head: bool = True  # policy terms train an untied copy of the tied LM head (embeddings frozen)
    max_length: int = 256
    batch_size: int = 16  # pairs per step
    epochs: float = 2.0
    learning_rate: float = 1e-4
    validation_fraction: float = 0.0  # > 0: validation every epoch, best-validation checkpoint reported
    per_epoch: bool = False  # score the test sets after every epoch (else after the last one only)
    eval_batch_size: int = 32
    row_tokens: int = 512  # packed rows (shorter rows waste less attention on pairs of ~100-200 tokens)


@dataclass(frozen=True)
class Scenario:
    """One regime: its data, the arms compared in it, how they train, and the seeds."""

    name: str
    description: str
    data: dict[str, Any]  # kind + sizes, read by build_data
    arms: tuple[str, ...]
    scope: Scope = field(default_factory=Scope)
    seeds: tuple[int, ...] = (0, 1, 2)
    in_distribution: tuple[str, ...] = ("id",)  # test sets drawn like the training data


# arm -> ObjectiveConfig fields (+ head_init); `tight` marks the PCRM bound fields filled in by arm_objective
ARMS: dict[str, dict[str, Any]] = {
    "bt": {"objective": "bt"},
    "bt-normal": {"objective": "bt", "head_init": "normal"},
    "haf": {"objective": "haf", "alpha": 0.2, "beta": 0.1},  # HaF-RM's defaults
    "grm": {"objective": "haf", "policy_loss": "sft", "alpha": 0.01, "beta": 0.1},  # GRM's weight 0.01, SFT reg.
    "dpo": {"objective": "dpo", "beta": 0.1},
    # the PCRM scenario: every arm carries the tight length bound; lambda 0 tracks it under the plain loss
    "bt-tracked": {"objective": "bt", "prior": "length", "prior_lambda": 0.0, "tight": True},
    "pcrm-length": {"objective": "bt", "prior": "length", "tight": True},
    "pcrm-fixed": {"objective": "bt", "prior": "fixed", "tight": True},
    "pcrm-random": {"objective": "bt", "prior": "random", "tight": True},
    "dpo-tracked": {"objective": "dpo", "beta": 0.1, "prior": "length", "prior_lambda": 0.0, "tight": True},
    "pcrm-dpo": {"objective": "dpo", "beta": 0.1, "prior": "length", "tight": True},
}

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "suite-a",
            "Built-in suite, trained on relevance, format, harmlessness and language (100 pairs each), "
            "tested on 40 held-out pairs of each (ID) and 60 of each of arithmetic, factual and "
            "conciseness (OOD), length-balanced, gold labels.",
            data={
                "kind": "suite",
                "train": SUITE_F1,
                "test": SUITE_F2,
                "per_family": 100,
                "id_per_family": 40,
                "ood_per_family": 60,
            },
            arms=("bt", "bt-normal", "haf", "grm", "dpo"),
        ),
        Scenario(
            "suite-b",
            "The rotation of suite-a: trained on arithmetic, factual and conciseness (133 pairs each), "
            "tested on 40 held-out pairs of each (ID) and 45 of each of the other four families (OOD); "
            "the reward-head arms only (DPO and the init control run on suite-a).",
            data={
                "kind": "suite",
                "train": SUITE_F2,
                "test": SUITE_F1,
                "per_family": 133,
                "id_per_family": 40,
                "ood_per_family": 45,
            },
            arms=("bt", "haf", "grm"),
        ),
        Scenario(
            "hh-helpful",
            "HH single-turn pairs: trained on 200 helpful-base pairs, tested on 100 held-out "
            "helpful pairs (ID) and 200 harmless-base pairs (OOD), length-balanced.",
            data={
                "kind": "hh",
                "train": "helpful-base",
                "test": "harmless-base",
                "train_pairs": 200,
                "id_pairs": 100,
                "ood_pairs": 200,
            },
            arms=("bt", "haf"),
        ),
        Scenario(
            "hh-harmless",
            "The reverse: trained on 200 harmless-base single-turn pairs, tested on 100 held-out "
            "harmless pairs (ID) and 200 helpful-base pairs (OOD), length-balanced.",
            data={
                "kind": "hh",
                "train": "harmless-base",
                "test": "helpful-base",
                "train_pairs": 200,
                "id_pairs": 100,
                "ood_pairs": 200,
            },
            arms=("bt", "haf"),
        ),
        Scenario(
            "tldr",
            "TL;DR: trained on 200 batch13 comparisons (2 epochs), tested on 200 batch18 comparisons and the "
            "5-pair edit set; Spearman / Kendall of the margin against the labellers' confidence (1-9). "
            "Max length 96: the post is cut from the left, the summaries are kept whole. DPO carries the "
            "tight policy bound tracked but not applied (prior_lambda 0); PCRM-DPO applies it.",
            data={"kind": "tldr", "train_pairs": 200, "test_pairs": 200},
            arms=("bt", "haf", "dpo-tracked", "pcrm-dpo"),
            scope=Scope(max_length=96),
            in_distribution=(),
        ),
        Scenario(
            "pcrm",
            "PCRM where its bound binds: 300 TL;DR batch13 comparisons (10% validation), 10 epochs, the "
            "tight length bound, the top layer only (the CPU budget of 10 epochs x 4 arms x 3 seeds); "
            "batch18 (200 pairs) scored after every epoch: final and best-validation checkpoints. BT "
            "carries the bound tracked but not applied (prior_lambda 0).",
            data={"kind": "tldr", "train_pairs": 300, "test_pairs": 200},
            arms=("bt-tracked", "pcrm-length", "pcrm-fixed", "pcrm-random"),
            scope=Scope(top_layers=1, max_length=96, batch_size=32, epochs=10, validation_fraction=0.1, per_epoch=True),
            in_distribution=(),
        ),
    )
}
SCENARIO_ORDER = tuple(SCENARIOS)
RUN_ORDER = ("suite-a", "pcrm", "suite-b", "tldr", "hh-helpful", "hh-harmless")  # by what the claims need most


# ---- data -------------------------------------------------------------------------------------------------


@dataclass
class ScenarioData:
    """A scenario's training pairs and named test sets (all PreferencePair lists, deterministic)."""

    train: list[Any]
    tests: dict[str, list[Any]]


def length_balanced(pairs: list[Any], n: int, seed: str) -> list[Any]:
    """n pairs (fewer if the data run short), half with the longer response chosen, half with the shorter one
    (characters; equal lengths never taken), drawn at random with `seed` and kept in their order."""
    longer = [i for i, p in enumerate(pairs) if len(p.chosen) > len(p.rejected)]
    shorter = [i for i, p in enumerate(pairs) if len(p.chosen) < len(p.rejected)]
    k = min(n // 2, len(longer), len(shorter))
    rng = random.Random(seed)
    keep = rng.sample(longer, k) + rng.sample(shorter, k)
    return [pairs[i] for i in sorted(keep)]


def _suite(spec: dict[str, Any]) -> ScenarioData:
    from rewardkit.data.suite import build_suite, prompt_key

    train = build_suite(spec["per_family"], seed=0, families=list(spec["train"]))
    seen = {prompt_key(p.prompt) for p in train}

    def fresh(families: tuple[str, ...], per_family: int) -> list[Any]:
        out = []
        for family in families:  # a large pool from another seed, minus any prompt seen in training
            pool = [
                p for p in build_suite(6 * per_family, seed=1, families=[family]) if prompt_key(p.prompt) not in seen
            ]
            out += length_balanced(pool, per_family, f"evidence:{family}")
        return out

    return ScenarioData(
        train, {"id": fresh(spec["train"], spec["id_per_family"]), "ood": fresh(spec["test"], spec["ood_per_family"])}
    )


def _hh_single_turn(root: Path, subset: str) -> list[Any]:
    from rewardkit.data.loading import DataSpec, load_pairs

    return [p for p in load_pairs(DataSpec(path=str(root / HH / subset / "test.jsonl.gz"))) if len(p.prompt) == 1]


def _hh(spec: dict[str, Any], root: Path) -> ScenarioData:
    own = _hh_single_turn(root, spec["train"])
    random.Random(f"evidence:hh:{spec['train']}").shuffle(own)
    train, rest = own[: spec["train_pairs"]], own[spec["train_pairs"] :]
    other = _hh_single_turn(root, spec["test"])
    return ScenarioData(
        train,
        {
            "id": length_balanced(rest, spec["id_pairs"], "evidence:hh-id"),
            "ood": length_balanced(other, spec["ood_pairs"], "evidence:hh-ood"),
        },
    )


def _tldr(spec: dict[str, Any], root: Path) -> ScenarioData:
    from rewardkit.data.loading import DataSpec, load_pairs

    def read(name: str) -> list[Any]:
        return load_pairs(DataSpec(path=str(root / TLDR / f"{name}.json"), format="summarize"))

    train, test = read("batch13"), read("batch18")
    random.Random("evidence:tldr:train").shuffle(train)
    keep = sorted(random.Random("evidence:tldr:test").sample(range(len(test)), min(spec["test_pairs"], len(test))))
    return ScenarioData(
        train[: spec["train_pairs"]], {"batch18": [test[i] for i in keep], "edit": read("edit_b2_eval_test")}
    )


def build_data(scenario: Scenario, root: Path) -> ScenarioData:
    kind = scenario.data["kind"]
    if kind == "suite":
        return _suite(scenario.data)
    if kind == "hh":
        return _hh(scenario.data, root)
    if kind == "tldr":
        return _tldr(scenario.data, root)
    raise ValueError(f"scenario {scenario.name}: unknown data kind {kind!r}")


def test_pair_info(pairs: list[Any]) -> list[dict[str, Any]]:
    """Per test pair what the claims need besides the margins: content hash, whether the chosen response is
    the longer one, the preference strength (labeller confidence, gold score difference) where there is one."""
    out = []
    for p in pairs:
        strength = p.strength
        if strength is None and p.chosen_score is not None and p.rejected_score is not None:
            strength = p.chosen_score - p.rejected_score  # the suite's gold score difference
        out.append(
            {
                "hash": p.content_hash(),
                "chosen_longer": len(p.chosen) > len(p.rejected),
                "strength": strength,
                "subset": p.subset,
            }
        )
    return out


# ---- arms -------------------------------------------------------------------------------------------------


def arm_objective(arm: str, mean_delta: dict[str, float] | None = None) -> tuple[dict[str, Any], str]:
    """(ObjectiveConfig fields, head init) of an arm. PCRM arms get the tight bound of their form; the fixed
    and random ablations the same mean delta* as the length prior on the training pairs (`mean_delta`)."""
    spec = dict(ARMS[arm])
    head_init = spec.pop("head_init", "zero")
    if spec.pop("tight", False):
        form = "policy" if spec["objective"] == "dpo" else "reward"
        if spec["prior"] == "length":
            spec.update(TIGHT_POLICY if form == "policy" else TIGHT_REWARD)
        else:
            if mean_delta is None:
                raise ValueError(f"arm {arm}: the ablation needs the mean length-prior delta* of the training pairs")
            m = mean_delta[form]
            spec.update({"fixed_delta": m} if spec["prior"] == "fixed" else {"random_delta_range": [m / 2, 3 * m / 2]})
    return spec, head_init


def arm_terms(arm: str) -> dict[str, bool]:
    """Which heads an arm trains: policy (an LM-head term), reference (that term needs reference log-probs),
    implicit (its score is the implicit reward: no reward head)."""
    from rewardkit.objectives.losses import REFERENCE_FREE_LOSSES

    objective, _ = arm_objective(arm, {"reward": 1.0, "policy": 1.0})
    policy = objective["objective"] != "bt"
    return {
        "policy": policy,
        "implicit": objective["objective"] == "dpo",
        "reference": policy and objective.get("policy_loss", "sigmoid") not in REFERENCE_FREE_LOSSES,
    }


def tight_mean_delta(encoded: list[Any]) -> dict[str, float]:
    """Mean delta* of the tight length bounds over encoded pairs, per form (what the ablations match)."""
    from rewardkit.data.priors import BoundParams, length_similarities

    s = length_similarities(encoded)
    return {
        form: round(sum(BoundParams(**bound).delta(x) for x in s) / len(s), 4)
        for form, bound in (("reward", TIGHT_REWARD), ("policy", TIGHT_POLICY))
    }


def scenario_settings(scenario: Scenario) -> dict[str, Any]:
    """What every run of the scenario depends on (its fingerprint's scenario part; an arm's bounds are in its
    objective), the encoding (where the reward is read) included."""
    scope = {k: v for k, v in asdict(scenario.scope).items() if k not in LAYOUT_ONLY}
    return {"name": scenario.name, "data": scenario.data, "scope": scope, "encoding": ENCODING}


def with_seeds(scenario: Scenario, seeds: tuple[int, ...] | None) -> Scenario:
    return scenario if not seeds else replace(scenario, seeds=seeds)


def gpu_variant(scenario: Scenario) -> Scenario:
    """The same scenario (data, arms, seeds, epochs) for a GPU: full fine-tuning, max length 512, lr 1e-5
    (records under benchmarks/results/records/evidence-gpu/)."""
    return replace(scenario, scope=replace(scenario.scope, tuning="full", max_length=512, learning_rate=1e-5))
