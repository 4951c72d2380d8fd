"""Training runs of the accuracy benchmark: one function per method.

Every method trains the same student architecture from the same seed with
the same optimizer, schedule, epochs and data (the same augmented views in
the same order, replayed from the teacher-output cache); only the loss
differs. A method function returns `(model to fit, student, info,
uses_cached_logits)`.
"""

import dataclasses
import math
import time

import keras
import tensorflow as tf

import kd_toolkit as kd


@dataclasses.dataclass
class Settings:
    """Hyper-parameters shared by every method of one benchmark run."""

    student: str
    student_width: int
    input_shape: tuple
    num_classes: int
    epochs: int
    steps_per_epoch: int
    learning_rate: float
    temperature: float
    kd_weight: float
    ama_start: tuple
    ama_end: tuple
    ama_student_layer: tuple
    ama_map_weight: float
    ama_gamma: float
    ama_warmup_steps: int
    ama_kind: str = "separable"
    ama_kernel_size: int = 3
    dkd_temperature: float = 4.0
    dkd_beta: float = 8.0


class _EpochRecorder(keras.callbacks.Callback):
    """Records training seconds and held-out accuracy after every epoch."""

    def __init__(self, student, eval_ds):
        super().__init__()
        self.student = student
        self.eval_ds = eval_ds
        self.seconds = []
        self.accuracy = []
        self.ce = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        accuracy, ce = evaluate(self.student, self.eval_ds)
        self.accuracy.append(accuracy)
        self.ce.append(ce)
        print(f"  epoch {epoch + 1}: held-out top-1 {accuracy:.4f}, "
              f"CE {ce:.4f}, {self.seconds[-1]:.1f} s", flush=True)


@tf.function(reduce_retracing=True)
def _predict(model, x):
    return model(x, training=False)


def evaluate(model, ds):
    """Returns (top-1 accuracy, mean cross-entropy) of a logit model."""
    correct, ce, n = 0, 0.0, 0
    for x, y in ds:
        logits = _predict(model, x)
        y = tf.cast(y, "int32")
        correct += int(tf.reduce_sum(tf.cast(
            tf.argmax(logits, -1, output_type="int32") == y, "int32")))
        ce += float(tf.reduce_sum(
            tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)))
        n += int(tf.shape(y)[0])
    return correct / n, ce / n


def _student(s, seed):
    keras.utils.set_random_seed(seed)
    kwargs = {"base_width": s.student_width} if s.student_width else {}
    return kd.models.get(s.student, input_shape=s.input_shape,
                         num_classes=s.num_classes, **kwargs)


def _optimizer(s):
    return keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
        s.learning_rate, decay_steps=s.epochs * s.steps_per_epoch))


def _ce():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _kd(s):
    return kd.losses.KD(s.temperature, weight=s.kd_weight)


def _stages(teacher, student):
    return kd.recipes.distill.common_stages(teacher, student)


def run_alone(s, teacher, seed):
    del teacher
    student = _student(s, seed)
    student.compile(_optimizer(s), _ce(), metrics=["accuracy"])
    return student, student, {}, False


def _ours(s, teacher, seed, extra, cached=False):
    student = _student(s, seed)
    distiller = kd.Distiller(teacher, student,
                             losses=[_kd(s)] + extra(student),
                             student_loss_weight=1.0 - s.kd_weight)
    distiller.compile(_optimizer(s), metrics=["accuracy"])
    return distiller, student, {}, cached


def run_kd(s, teacher, seed):
    return _ours(s, teacher, seed, lambda student: [], cached=True)


def run_kd_live(s, teacher, seed):
    return _ours(s, teacher, seed, lambda student: [])


def _logits_only(s, teacher, seed, loss):
    """A logit method in place of KD, trained from the cached logits."""
    student = _student(s, seed)
    distiller = kd.Distiller(teacher, student, losses=[loss],
                             student_loss_weight=1.0 - s.kd_weight)
    distiller.compile(_optimizer(s), metrics=["accuracy"])
    return distiller, student, {}, True


def run_dkd(s, teacher, seed):
    # α 1; β and τ default to the paper's CIFAR values (8, 4); its warm-up
    # over the first 1/12 of training; the same 1:1 hard/soft balance as KD.
    return _logits_only(s, teacher, seed, kd.losses.DKD(
        beta=s.dkd_beta, temperature=s.dkd_temperature, weight=s.kd_weight,
        warmup_steps=s.epochs * s.steps_per_epoch // 12))


def run_kd_ls(s, teacher, seed):
    # Logit standardization at the paper's base temperature 2.
    return _logits_only(s, teacher, seed, kd.losses.KD(
        2.0, weight=s.kd_weight, standardize=True))


def _relational_kd(loss_class):
    """KD + a relational loss on the pooled embeddings (teacher live)."""

    def run(s, teacher, seed):
        return _ours(s, teacher, seed,
                     lambda student: [loss_class("pool", "pool")])

    return run


run_rkd_kd = _relational_kd(kd.losses.RKD)
run_sp_kd = _relational_kd(kd.losses.SimilarityPreserving)
run_pkt_kd = _relational_kd(kd.losses.PKT)


def run_fitnets_kd(s, teacher, seed):
    def extra(student):
        stages = _stages(teacher, student)
        middle = stages[(len(stages) - 1) // 2]
        return [kd.losses.Hint(middle, middle)]
    return _ours(s, teacher, seed, extra)


def run_at_kd(s, teacher, seed):
    def extra(student):
        return [kd.losses.AttentionTransfer(
            [(n, n) for n in _stages(teacher, student)])]
    return _ours(s, teacher, seed, extra)


def _keras(s, teacher, seed, loss):
    student = _student(s, seed)
    distiller = keras.distillation.Distiller(
        teacher=teacher, student=student,
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=s.temperature, loss=loss),
        student_loss_weight=1.0 - s.kd_weight)
    distiller.compile(optimizer=_optimizer(s), loss=_ce(),
                      metrics=["accuracy"])
    return distiller, student, {}, False


def run_keras_fair(s, teacher, seed):
    """Keras's Distiller computing the same objective as our KD."""
    return _keras(s, teacher, seed, keras.losses.KLDivergence())


def run_keras_default(s, teacher, seed):
    """Keras's Distiller with LogitsDistillation's default loss string."""
    return _keras(s, teacher, seed, "kl_divergence")


def make_run_ama_kd(train_ds, eval_ds):
    """AMA+KD needs the data for its warm-up; returns the method function."""

    def run_ama_kd(s, teacher, seed):
        keras.utils.set_random_seed(seed)
        adapted = kd.adaptation.adapt_teacher(teacher, replacements=[
            kd.adaptation.Replacement(start=start, end=end,
                                      student_layer=student_layer,
                                      kind=s.ama_kind,
                                      kernel_size=s.ama_kernel_size)
            for start, end, student_layer in zip(
                s.ama_start, s.ama_end, s.ama_student_layer)])
        cost = adapted.cost()
        info = {"teacher_cost": str(cost),
                "adapted_teacher_macs_ratio": cost.macs_ratio}
        if s.ama_warmup_steps:
            report = kd.adaptation.warm_up(
                adapted, train_ds, steps=s.ama_warmup_steps,
                log_every=math.gcd(s.ama_warmup_steps, 50))
            info["warm_up"] = str(report)
        info["adapted_teacher_accuracy_start"] = evaluate(
            adapted.model, eval_ds)[0]
        student = _student(s, seed)
        distiller = kd.Distiller(
            adapted.model, student,
            losses=[_kd(s), kd.losses.ActivationMapAdaptation(
                adapted.replacements, map_weight=s.ama_map_weight,
                gamma=s.ama_gamma)],
            student_loss_weight=1.0 - s.kd_weight)
        distiller.compile(_optimizer(s), metrics=["accuracy"])
        info["adapted_model"] = adapted.model
        return distiller, student, info, False

    return run_ama_kd


def train(method_fn, s, teacher, seed, make_train_ds, eval_ds,
          train_eval_ds):
    """Trains one (method, seed) pair and returns its measured row.

    `make_train_ds(seed, with_teacher_outputs)` gives the seed's views.
    """
    model, student, info, cached = method_fn(s, teacher, seed)
    adapted_model = info.pop("adapted_model", None)
    recorder = _EpochRecorder(student, eval_ds)
    history = model.fit(make_train_ds(seed, cached), epochs=s.epochs,
                        verbose=0, shuffle=False, callbacks=[recorder])
    test_acc, test_ce = evaluate(student, eval_ds)
    _, train_ce = evaluate(student, train_eval_ds)
    row = {
        "seed": seed,
        "test_accuracy": test_acc,
        "test_ce": test_ce,
        "train_ce": train_ce,
        "final_objective": float(history.history["loss"][-1]),
        "seconds_per_epoch": recorder.seconds,
        "accuracy_per_epoch": recorder.accuracy,
        "ce_per_epoch": recorder.ce,
        "uses_cached_teacher_logits": cached,
        **info,
    }
    if adapted_model is not None:
        row["adapted_teacher_accuracy"] = evaluate(adapted_model, eval_ds)[0]
    return row


RUNNERS = {
    "alone": run_alone,
    "kd": run_kd,
    "kd_live": run_kd_live,
    "dkd": run_dkd,
    "kd_ls": run_kd_ls,
    "keras_fair": run_keras_fair,
    "keras_default": run_keras_default,
    "fitnets_kd": run_fitnets_kd,
    "at_kd": run_at_kd,
    "rkd_kd": run_rkd_kd,
    "sp_kd": run_sp_kd,
    "pkt_kd": run_pkt_kd,
}
METHOD_NAMES = tuple(RUNNERS) + ("ama_kd",)
