"""Magnitude pruning of a Keras 3 student with tfmot, guided by its teacher."""

import dataclasses

from kd_toolkit.compress import config_graph
from kd_toolkit.compress import tf_keras_bridge
from kd_toolkit.compress.distill_finetune import distill_finetune
from kd_toolkit.compress.fine_tuning import PRUNE_FINE_TUNING
from kd_toolkit.compress.fine_tuning import check_fine_tuning
from kd_toolkit.compress.sparsity import sparsity_report
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.utils import optional_imports
from kd_toolkit.utils import validation

_WEIGHTED_LAYERS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")


@dataclasses.dataclass(frozen=True)
class PruningSchedule:
    """The polynomial-decay sparsity ramp actually used (in training steps).

    Args:
        target_sparsity: float in (0, 1).
        begin_step: int. First step of the ramp (sparsity 0).
        end_step: int. Step at which the target is reached.
        frequency: int. Masks are recomputed every `frequency` steps.
        total_steps: int. Fine-tuning steps in all.
    """

    target_sparsity: float
    begin_step: int
    end_step: int
    frequency: int
    total_steps: int


@dataclasses.dataclass(frozen=True)
class PruningResult:
    """What `prune` returns.

    Args:
        model: the pruned, stripped student as a Keras 3 `keras.Model`.
        schedule: `PruningSchedule`.
        sparsity: `SparsityReport` over the pruned weights.
        history: `FinetuneHistory` of the fine-tuning.
    """

    model: object
    schedule: PruningSchedule
    sparsity: object
    history: object


def prune(
    student,
    teacher,
    dataset,
    *,
    target_sparsity=0.5,
    fine_tuning=None,
    begin_step=0,
    end_step=None,
    frequency=None,
    layer_names=None,
    keep_first_layer=True,
):
    """Prunes a student by weight magnitude while distilling the teacher.

    Zhu and Gupta, "To prune, or not to prune: exploring the efficacy of
    pruning for model compression", 2017, https://arxiv.org/abs/1710.01878.
    The student is rebuilt in `tf_keras`, wrapped with
    `tfmot.sparsity.keras.prune_low_magnitude`, fine-tuned with CE + KD
    (`distill_finetune`), stripped and rebuilt in Keras 3. Sparsity follows
    tfmot's `PolynomialDecay` (power 3) from 0 at `begin_step` to the target
    at `end_step`, masks recomputed every `frequency` steps:

    ```
    s(t) = target · (1 − (1 − (t − begin) / (end − begin))³)
    ```

    Defaults leave the last 30% of the steps to recover at full sparsity:
    `end_step ≈ begin_step + 0.7 · (total_steps − begin_step)`, ten mask
    updates on the way.

    Args:
        student: Keras 3 functional student (see `SUPPORTED_LAYERS`).
        teacher: Keras 3 teacher, or None (cross-entropy only).
        dataset: `tf.data.Dataset` of `(images, labels)` training batches.
        target_sparsity: float in (0, 1). Fraction of zeros in every pruned
            kernel. Defaults to `0.5`.
        fine_tuning: `FineTuning` or None. None means
            `PRUNE_FINE_TUNING`: 2 epochs at 1e-3 (higher than for QAT: the
            pruned network has to recover), cosine-decayed to 0, Adam, τ 4.
            Its `steps_per_epoch` is needed when the dataset's length is
            unknown.
        begin_step: int >= 0. Defaults to `0`.
        end_step: int or None. Must satisfy `begin_step < end_step <=
            total_steps` and be a multiple of `frequency` away from
            `begin_step`, so that the target is reached.
        frequency: int >= 1 or None.
        layer_names: sequence of str or None. Layers to prune; None prunes
            every layer tfmot can (conv and dense kernels), see
            `keep_first_layer`.
        keep_first_layer: bool. With `layer_names=None`, leave the first
            conv/dense layer dense: it sees the raw image through few
            weights (72 in a 3×3×1×8 stem), so pruning it costs accuracy
            and saves almost nothing. Defaults to `True`.

    Returns:
        `PruningResult` with the Keras 3 pruned student.

    Raises:
        ValueError: for a bad schedule, unknown layer names, or a dataset
            of unknown length without `steps_per_epoch`.
        UnsupportedLayerError: if the student has layers the bridge cannot
            rebuild.

    Example:

    ```python
    result = prune(student, teacher, train_ds, target_sparsity=0.8)
    result.sparsity.zero_fraction  # ~0.8
    kd_toolkit.export.export_and_verify(result.model, "tflite_float32", "out",
                                        dataset="fashion_mnist")
    ```
    """
    tfmot = optional_imports.tfmot()
    target_sparsity = validation.check_fraction(
        "target_sparsity", target_sparsity
    )
    tuning = check_fine_tuning(fine_tuning, PRUNE_FINE_TUNING)
    steps = _steps_per_epoch(dataset, tuning.steps_per_epoch)
    schedule = make_schedule(
        target_sparsity, tuning.epochs * steps, begin_step, end_step, frequency
    )
    student_outputs = detect_output_kind(student, "auto", "student")
    legacy = tf_keras_bridge.to_tf_keras(student)
    params = {
        "pruning_schedule": tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0,
            final_sparsity=target_sparsity,
            begin_step=schedule.begin_step,
            end_step=schedule.end_step,
            frequency=schedule.frequency,
        )
    }
    if layer_names is None and keep_first_layer:
        layer_names = _all_but_first_weighted_layer(legacy)
    wrapped, wrappers = _wrap(legacy, tfmot, params, layer_names)
    history = distill_finetune(
        wrapped,
        teacher,
        dataset,
        tuning.replace(steps_per_epoch=steps),
        student_outputs=student_outputs,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
    )
    pruned_weights = {}
    for name, wrapper in wrappers.items():
        weights = [
            w.name.split("/")[-1].split(":")[0]
            for w, _, _ in wrapper.pruning_vars
        ]
        if weights:
            pruned_weights[name] = weights
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    model = tf_keras_bridge.to_keras3(stripped)
    return PruningResult(
        model, schedule, sparsity_report(model, pruned_weights), history
    )


def make_schedule(
    target_sparsity, total_steps, begin_step=0, end_step=None, frequency=None
):
    """Validates or derives the sparsity ramp over `total_steps` steps.

    Args:
        target_sparsity: float in (0, 1).
        total_steps: int >= 1. Fine-tuning steps in all.
        begin_step: int >= 0. Defaults to `0`.
        end_step: int or None. Default: 70% of the way through.
        frequency: int >= 1 or None. Default: ten updates on the ramp.

    Returns:
        `PruningSchedule`.

    Raises:
        ValueError: if the target could not be reached within the steps.
    """
    target_sparsity = validation.check_fraction(
        "target_sparsity", target_sparsity
    )
    total_steps = validation.check_int("total_steps", total_steps, 1)
    begin_step = validation.check_int("begin_step", begin_step, 0)
    end_step = validation.check_int("end_step", end_step, 1, allow_none=True)
    frequency = validation.check_int("frequency", frequency, 1, allow_none=True)
    if end_step is None:
        ramp = int(0.7 * (total_steps - begin_step))
        if ramp < 1:
            raise ValueError(
                f"Too few fine-tuning steps ({total_steps}) after "
                f"begin_step={begin_step} to prune gradually: raise `epochs`"
                f" or `steps_per_epoch`. Received: begin_step={begin_step}"
            )
        frequency = frequency or max(1, ramp // 10)
        end_step = begin_step + frequency * max(1, ramp // frequency)
    frequency = frequency or max(1, (end_step - begin_step) // 10)
    if not begin_step < end_step <= total_steps:
        raise ValueError(
            f"`end_step` must be in (begin_step={begin_step}, total_steps="
            f"{total_steps}] for the target sparsity to be reached. "
            f"Received: end_step={end_step}"
        )
    if (end_step - begin_step) % frequency:
        raise ValueError(
            f"`end_step - begin_step` must be a multiple of frequency="
            f"{frequency}, or the last mask update falls short of the target"
            f". Received: end_step={end_step}, begin_step={begin_step}"
        )
    return PruningSchedule(
        target_sparsity, begin_step, end_step, frequency, total_steps
    )


def _all_but_first_weighted_layer(legacy):
    """Every layer but the input and the first conv/dense (graph order)."""
    specs = [
        spec
        for spec in config_graph.read_graph(legacy).layers
        if spec["class_name"] != "InputLayer"
    ]
    weighted = [s["name"] for s in specs if s["class_name"] in _WEIGHTED_LAYERS]
    return [s["name"] for s in specs if s["name"] not in weighted[:1]]


def _wrap(legacy, tfmot, params, layer_names):
    """Wraps the selected layers; returns the model and name -> wrapper."""
    available = [layer.name for layer in legacy.layers]
    if layer_names is not None:
        layer_names = list(layer_names)
        unknown = [n for n in layer_names if n not in available]
        if unknown or not layer_names:
            raise ValueError(
                f"`layer_names` must name layers of the student {available}"
                f". Received: layer_names={layer_names!r}"
            )
    wrappers = {}

    def wrap(layer):
        if layer_names is not None and layer.name not in layer_names:
            return layer
        if not layer.weights:
            # Nothing to prune; tfmot also refuses weightless layers its
            # registry lacks (Rescaling, Multiply).
            return layer
        wrappers[layer.name] = tfmot.sparsity.keras.prune_low_magnitude(
            layer, **params
        )
        return wrappers[layer.name]

    return tf_keras_bridge.clone_tf_keras_model(legacy, wrap), wrappers


def _steps_per_epoch(dataset, steps_per_epoch):
    steps_per_epoch = validation.check_int(
        "steps_per_epoch", steps_per_epoch, 1, allow_none=True
    )
    if steps_per_epoch is not None:
        return steps_per_epoch
    cardinality = int(dataset.cardinality())
    if cardinality < 1:
        raise ValueError(
            "The dataset's length is unknown or infinite: pass "
            "`steps_per_epoch`. Received: steps_per_epoch=None"
        )
    return cardinality
