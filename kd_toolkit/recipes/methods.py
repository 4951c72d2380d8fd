"""The distillation methods, by name: one registry for every entry point.

A method is a recipe of registered losses (`kd_toolkit.losses.get`): "kd"
is Hinton KD, "fitnets" is KD plus a FitNets hint, "ama" adapts the teacher
and adds the AMA map loss to KD, and so on. The command line
(`kd-train --method=...`), the distillation recipe and the accuracy
benchmark all look methods up here, so a method added here is available to
all three.

A method named after a loss (`"kd"`, `"dkd"`, `"rkd"`, `"ama"`, ...) trains
with that loss at the recipe's settings, and a feature or relation loss
always with Hinton KD beside it, as its label says ("AMA + KD"): the loss
`"ama"` is the map term alone (`Distiller(losses=["ama"])`), the method
`"ama"` the paper's recipe, KD included. `tests/recipes/test_method_names.py`
holds every shared name to that rule.

Example:

```python
plan = kd.recipes.methods.get("dkd").plan(
    kd.recipes.MethodSettings(), teacher, student)
distiller = kd.Distiller(plan.teacher or teacher, student,
                         losses=plan.losses, student_loss_weight=0.5)
```

Size: the registry of the recipe's methods, one short plan function per method,
read side by side; to split next: the AMA plans.
"""

import dataclasses
import math
from collections.abc import Callable

from kd_toolkit import adaptation
from kd_toolkit import losses
from kd_toolkit import models
from kd_toolkit.utils.model_graph import layer_names
from kd_toolkit.utils.registry import Registry


@dataclasses.dataclass(frozen=True)
class AMASettings:
    """Where and how activation map adaptation replaces teacher blocks.

    The defaults fit the zoo ResNets (`kd_toolkit.models`): the last stage's
    blocks after its first are replaced by one separable adapter that
    supervises the student's last stage; see `kd_toolkit.adaptation`.

    Attributes:
        start: start cut of each replacement.
        end: end cut of each replacement.
        student_layer: student layer each adapter supervises (None or "":
            none; the adapter only makes the teacher cheaper).
        map_weight: weight of the student's activation-map term.
        gamma: weight of the adapter's own map term.
        warmup_steps: adapter warm-up steps before distillation (0: none).
        kind: adapter architecture ("separable" or "conv").
        kernel_size: adapter kernel size.
        local_gradients: each adapter learns from its own terms only
            (`adapt_teacher(local_gradients=True)`): cheaper steps.
    """

    start: tuple = ("stage3_block1_out",)
    end: tuple = ("stage3_out",)
    student_layer: tuple = ("stage3_out",)
    map_weight: float = 5.0
    gamma: float = 1.0
    warmup_steps: int = 300
    kind: str = "separable"
    kernel_size: int = 3
    local_gradients: bool = False


@dataclasses.dataclass(frozen=True)
class MethodSettings:
    """Hyper-parameters the methods read (defaults: our validation search).

    Attributes:
        temperature: KD temperature τ. τ = 1 was picked on a validation
            split for the resnet8 students of our benchmark
            (benchmarks/results/tune_kd_search.md); τ = 4 hurt them.
        kd_weight: weight α of the distillation term (hard labels: 1 − α).
        dkd_temperature: DKD temperature.
        dkd_beta: DKD non-target weight β; 2 was picked on the validation
            split (docs/methods.md), the paper's 8 hurt our students.
        dkd_warmup_fraction: DKD's linear warm-up, as a fraction of the
            training steps (the paper: 20 of 240 epochs, 1/12).
        ls_temperature: base temperature of KD on standardized logits
            ("kd_ls"; the paper's is 2).
        review_mid_channels: channels of ReviewKD's fused maps (0: the
            loss's default, the deepest student map's channels).
        ama: `AMASettings` of the "ama" method.
        ama_cached: `AMASettings` of the "ama_cached" method.
    """

    temperature: float = 1.0
    kd_weight: float = 0.5
    dkd_temperature: float = 1.0
    dkd_beta: float = 2.0
    dkd_warmup_fraction: float = 1.0 / 12.0
    ls_temperature: float = 2.0
    review_mid_channels: int = 0
    ama: AMASettings = AMASettings()
    ama_cached: AMASettings = AMASettings(
        start=("stem_out", "stage1_out", "stage2_out"),
        end=("stage1_out", "stage2_out", "stage3_out"),
        student_layer=(None, None, "stage3_out"),
        map_weight=1.0,
        kind="conv",
        kernel_size=1,
        local_gradients=True,
    )


@dataclasses.dataclass
class Plan:
    """What a method contributes to one distillation run.

    Attributes:
        losses: the distillation losses for `kd_toolkit.Distiller`.
        teacher: the teacher to distil from when the method changes it (the
            adapted teacher of "ama"); None keeps the given teacher.
        info: figures worth reporting (e.g. the adapted teacher's cost).
    """

    losses: list
    teacher: object = None
    info: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Method:
    """A named distillation method.

    Attributes:
        name: registry name (`--method=name`).
        label: one line for tables and reports.
        build: `build(settings, teacher, student, train_ds, total_steps)`
            returning a `Plan`.
        logits_only: reads only the teacher's logits, so from the
            teacher-output cache (`kd_toolkit.TeacherLogitsCache`) it never
            runs the teacher.
        teacher_cache: trains from the teacher-output cache when one is
            given: every logits-only method, the methods on the pooled
            embedding (which the cache holds too, `cached_features`), and
            "ama_cached", whose KD term reads the original teacher's cached
            logits while its adapted teacher runs for the maps.
        cached_features: teacher layers the cache must hold besides the
            logits, so that the teacher never runs ("pool" for RKD, SP,
            PKT and CRD).
        warms_up: trains parts of its own on training data before the
            distillation; `plan` then needs `train_ds`.
    """

    name: str
    label: str
    build: Callable
    logits_only: bool = False
    warms_up: bool = False
    teacher_cache: bool = False
    cached_features: tuple = ()

    def plan(self, settings, teacher, student, train_ds=None, total_steps=0):
        """Returns the method's `Plan` for one run.

        Args:
            settings: `MethodSettings`.
            teacher: the frozen teacher.
            student: the student.
            train_ds: training batches `(x, y)`; needed by methods that
                warm up (`warms_up`: "ama").
            total_steps: training steps of the run (for warm-ups).
        """
        return self.build(settings, teacher, student, train_ds, total_steps)


_METHODS = Registry("method", "method")


def method(
    name,
    label,
    logits_only=False,
    warms_up=False,
    teacher_cache=None,
    cached_features=(),
):
    """Registers `build(settings, teacher, student, train_ds, total_steps)`
    as the method `name` (see `Method`; `teacher_cache` defaults to
    `logits_only`, or True with `cached_features`)."""

    def register(build):
        _METHODS.register(
            name,
            Method(
                name,
                label,
                build,
                logits_only,
                warms_up,
                (
                    logits_only or bool(cached_features)
                    if teacher_cache is None
                    else teacher_cache
                ),
                tuple(cached_features),
            ),
        )
        return build

    return register


def names():
    """The registered method names, sorted."""
    return _METHODS.names()


def get(name):
    """Returns the registered `Method` called `name`.

    Raises:
        ValueError: listing close matches and the valid names when `name`
            is unknown.
    """
    return _METHODS.get(name)


def _kd(s):
    return losses.get("kd", temperature=s.temperature, weight=s.kd_weight)


@method("kd", "Hinton KD", logits_only=True)
def _hinton(s, teacher, student, train_ds, total_steps):
    return Plan([_kd(s)])


@method("kd_ls", "KD + logit standardization", logits_only=True)
def _kd_standardized(s, teacher, student, train_ds, total_steps):
    return Plan(
        [
            losses.get(
                "kd",
                temperature=s.ls_temperature,
                weight=s.kd_weight,
                standardize=True,
            )
        ]
    )


@method("dkd", "DKD, α 1, warm-up 1/12", logits_only=True)
def _decoupled(s, teacher, student, train_ds, total_steps):
    return Plan(
        [
            losses.get(
                "dkd",
                beta=s.dkd_beta,
                temperature=s.dkd_temperature,
                weight=s.kd_weight,
                warmup_steps=int(total_steps * s.dkd_warmup_fraction),
            )
        ]
    )


def common_stages(teacher, student):
    """`stage{i}_out` names present in both models, in order (empty when
    they share none)."""
    student_stages = set(models.stage_output_names(student))
    return [
        n for n in models.stage_output_names(teacher) if n in student_stages
    ]


def feature_pairs(teacher, student):
    """The `(teacher layer, student layer)` pairs the feature methods tap.

    The zoo's `stage{i}_out` layers where both models have them; otherwise
    (a `keras.applications` model, a user's own network) the pairs of
    `kd_toolkit.adaptation.propose_layer_pairs`, printed with the reason
    for each.

    Returns:
        `(pairs, info)`: pairs shallow to deep, and what to report about
        how they were chosen.

    Raises:
        ValueError: if the models share no feature-map resolution.
    """
    stages = common_stages(teacher, student)
    if stages:
        return [(n, n) for n in stages], {"layer_pairs": "stage{i}_out names"}
    proposed = adaptation.propose_layer_pairs(teacher, student)
    print(
        "[kd_toolkit] the models share no stage{i}_out layers; feature "
        "pairs from kd_toolkit.adaptation.propose_layer_pairs:\n"
        f"{proposed}",
        flush=True,
    )
    info = {
        "layer_pairs": [
            {
                "teacher": p.teacher_layer,
                "student": p.student_layer,
                "resolution": list(p.resolution),
                "why": p.reason,
            }
            for p in proposed
        ]
    }
    return proposed.names(), info


@method("fitnets", "FitNets + KD")
def _fitnets(s, teacher, student, train_ds, total_steps):
    # The hint sits at the middle stage of the network.
    pairs, info = feature_pairs(teacher, student)
    t, st = pairs[(len(pairs) - 1) // 2]
    info["hint"] = [t, st]
    return Plan(
        [_kd(s), losses.get("hint", teacher_layer=t, student_layer=st)],
        info=info,
    )


@method("at", "AT + KD")
def _attention(s, teacher, student, train_ds, total_steps):
    pairs, info = feature_pairs(teacher, student)
    return Plan(
        [_kd(s), losses.get("attention_transfer", layer_pairs=pairs)],
        info=info,
    )


def _on_embeddings(name):
    """KD plus the relational loss `name` on the pooled embeddings."""

    def build(s, teacher, student, train_ds, total_steps):
        for model in (teacher, student):
            if "pool" not in {layer.name for layer in model.layers}:
                raise ValueError(
                    f"Method {name!r} reads the `pool` layer (the pooled "
                    f"embedding); model '{model.name}' has none. Received: "
                    f"layers {[layer.name for layer in model.layers]}"
                )
        return Plan(
            [
                _kd(s),
                losses.get(name, teacher_layer="pool", student_layer="pool"),
            ]
        )

    return build


# The pooled embedding is 64 floats per view for resnet20: the cache holds
# it beside the logits, so these methods train at the student's cost.
for _name, _label in (
    ("rkd", "RKD + KD on the pooled embeddings"),
    ("sp", "SP + KD on the pooled embeddings"),
    ("pkt", "PKT + KD on the pooled embeddings"),
    ("crd", "CRD (in-batch negatives) + KD on the pooled embeddings"),
):
    method(_name, _label, cached_features=("pool",))(_on_embeddings(_name))


@method("review_kd", "ReviewKD + KD, warm-up 1/12")
def _review(s, teacher, student, train_ds, total_steps):
    # Every common stage, shallow to deep; the paper ramps its weight over
    # its first 20 of 240 epochs.
    pairs, info = feature_pairs(teacher, student)
    return Plan(
        [
            _kd(s),
            losses.get(
                "review_kd",
                layer_pairs=pairs,
                mid_channels=s.review_mid_channels or None,
                warmup_steps=total_steps // 12,
            ),
        ],
        info=info,
    )


@method("ama", "AMA + KD", warms_up=True)
def _activation_map_adaptation(s, teacher, student, train_ds, total_steps):
    return _ama_plan(s, _ama_layers(s.ama, teacher, student), teacher, train_ds)


@method(
    "ama_cached",
    "AMA + KD, stages 1-3 by 1x1 conv adapters, KD from the full teacher",
    warms_up=True,
    teacher_cache=True,
)
def _ama_from_cache(s, teacher, student, train_ds, total_steps):
    # KD reads the original teacher's logits from the teacher-output cache,
    # so the adapted teacher need only give maps: every stage is replaced
    # by a 1x1 convolution (0.02x the teacher's MACs on resnet20), and the
    # last one teaches the student's last stage, learning from its own
    # terms only (no backward pass along the chain of adapters). Picked on
    # the validation split among three such teachers (docs/adaptation.md).
    return _ama_plan(
        s, _ama_layers(s.ama_cached, teacher, student), teacher, train_ds
    )


def _ama_layers(a, teacher, student):
    """`a`, or, when the teacher or the student lacks its layers (a model
    without the zoo's names), one replacement found in the models' graphs:
    the teacher's last block, between its last two block ends, adapted to
    teach the student's layer paired with its end
    (`propose_layer_pairs`)."""
    names = {
        "teacher": set(layer_names(teacher)),
        "student": set(layer_names(student)),
    }
    if (
        set(a.start) | set(a.end) <= names["teacher"]
        and {n for n in a.student_layer if n} <= names["student"]
    ):
        return a
    pairs = adaptation.propose_layer_pairs(teacher, student)
    end, student_layer = pairs.names()[-1]
    blocks = adaptation.find_cuts(teacher, blocks_only=True).names()
    if end not in blocks or blocks.index(end) == 0:
        raise ValueError(
            "AMA needs two block ends of the teacher to replace the block "
            f"between them; '{teacher.name}' has none before '{end}'. Pass "
            "AMASettings(start=..., end=..., student_layer=...) with layer "
            f"names. Received: teacher block ends {blocks}"
        )
    start = blocks[blocks.index(end) - 1]
    print(
        "[kd_toolkit] AMA: the models lack the zoo's layer names; adapting "
        f"the teacher's block {start} -> {end} to teach the student's "
        f"{student_layer}",
        flush=True,
    )
    return dataclasses.replace(
        a, start=(start,), end=(end,), student_layer=(student_layer,)
    )


def _ama_plan(s, a, teacher, train_ds):
    adapted = adaptation.adapt_teacher(
        teacher,
        replacements=[
            adaptation.Replacement(
                start=start,
                end=end,
                student_layer=student_layer or None,
                kind=a.kind,
                kernel_size=a.kernel_size,
            )
            for start, end, student_layer in zip(
                a.start, a.end, a.student_layer
            )
        ],
        local_gradients=a.local_gradients,
    )
    cost = adapted.cost()
    info = {
        "teacher_cost": str(cost),
        "adapted_teacher_macs_ratio": cost.macs_ratio,
    }
    if a.warmup_steps:
        if train_ds is None:
            raise ValueError(
                "AMA methods warm their adapters up on training data. "
                "Expected train_ds, or AMASettings(warmup_steps=0). "
                "Received: train_ds=None"
            )
        info["warm_up"] = str(
            adaptation.warm_up(
                adapted,
                train_ds,
                steps=a.warmup_steps,
                log_every=math.gcd(a.warmup_steps, 50),
            )
        )
    if a.local_gradients:
        # An adapter that teaches no student layer gets no gradient when
        # each adapter learns from its own terms: it keeps its warmed-up
        # weights, frozen, and runs forward only.
        for r in adapted.replacements:
            if r.student_layer is None:
                adapted.adapters[r.adapter_name].trainable = False
    return Plan(
        [
            _kd(s),
            losses.get(
                "ama",
                replacements=adapted.replacements,
                map_weight=a.map_weight,
                gamma=a.gamma,
            ),
        ],
        teacher=adapted.model,
        info=info,
    )
