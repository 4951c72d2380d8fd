"""Training runs of the accuracy benchmark, one per method.

The methods are kd_toolkit's registry (`kd_toolkit.recipes.methods`: "kd",
"dkd", "fitnets", "ama", ...) plus the benchmark's baselines: the student
alone, KD with the teacher run every step, and Keras's own Distiller. Every
method trains the same student architecture from the same seed with the
same optimizer, schedule, epochs and data (the same augmented views in the
same order, replayed from the teacher-output cache); only the loss differs.
A method's setup returns `(model to fit, student, info, uses_cached_logits)`.
"""

import dataclasses
import json
import os
import time

import keras

import kd_toolkit as kd
from kd_toolkit.recipes import training
from kd_toolkit.recipes.training import evaluate
from kd_toolkit.utils.atomic_io import atomic_write_text

# Every model of the benchmark trains without XLA, whatever the machine:
# the protocols' runs were made so, and a paired seed keeps its numerics
# (XLA's defaults differ between machines: kd_toolkit.utils.cpu).
JIT_COMPILE = False


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
    method: kd.recipes.MethodSettings

    def to_json(self):
        """Flat JSON-ready dict: the method settings at the top level, each
        AMA method's settings prefixed with its field name (`ama_start`,
        `ama_cached_start`, ...: the run files' format)."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "method"
        }
        for f in dataclasses.fields(self.method):
            value = getattr(self.method, f.name)
            if isinstance(value, kd.recipes.AMASettings):
                for g in dataclasses.fields(value):
                    out[f"{f.name}_{g.name}"] = getattr(value, g.name)
            else:
                out[f.name] = value
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in out.items()
        }


class _EpochRecorder(keras.callbacks.Callback):
    """Records training seconds and held-out accuracy after every epoch.

    With `state_path`, the lists are saved after every epoch and reloaded
    by a resumed run. The recorder runs before the backup callback, so its
    file is never behind the backup: the first epoch a run begins (0, or
    the one its backup resumes) truncates the lists to that epoch.
    """

    FIELDS = ("seconds", "accuracy", "ce", "resumed_at_epoch")

    def __init__(self, student, eval_ds, state_path=None):
        super().__init__()
        self.student = student
        self.eval_ds = eval_ds
        self.state_path = state_path
        state = {}
        if state_path and os.path.exists(state_path):
            with open(state_path) as f:
                state = json.load(f)
        for name in self.FIELDS:
            setattr(self, name, list(state.get(name, [])))
        self._begun = False
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        if not self._begun:
            self._begun = True
            for name in ("seconds", "accuracy", "ce"):
                setattr(self, name, getattr(self, name)[:epoch])
            if epoch:
                self.resumed_at_epoch.append(epoch)
                print(f"  resumed at epoch {epoch + 1}", flush=True)
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        accuracy, ce = evaluate(self.student, self.eval_ds)
        self.accuracy.append(accuracy)
        self.ce.append(ce)
        if self.state_path:
            os.makedirs(os.path.dirname(self.state_path), exist_ok=True)
            state = {name: getattr(self, name) for name in self.FIELDS}
            atomic_write_text(
                self.state_path, json.dumps(state), overwrite=True
            )
        print(
            f"  epoch {epoch + 1}: held-out top-1 {accuracy:.4f}, "
            f"CE {ce:.4f}, {self.seconds[-1]:.1f} s",
            flush=True,
        )


def _student(s, seed):
    return training.build_model(
        s.student,
        s.input_shape,
        s.num_classes,
        width=s.student_width,
        seed=seed,
    )


def _optimizer(s):
    return training.cosine_adam(s.learning_rate, s.epochs * s.steps_per_epoch)


def run_alone(s, teacher, seed, train_ds):
    del teacher, train_ds
    student = _student(s, seed)
    student.compile(
        _optimizer(s),
        training.hard_label_loss(),
        metrics=["accuracy"],
        jit_compile=JIT_COMPILE,
    )
    return student, student, {}, False


def _registered(name, cached=None):
    """A method of kd_toolkit's registry, trained as the recipe trains it.
    `cached` overrides whether it reads the teacher-output cache."""
    method = kd.recipes.methods.get(name)

    def run(s, teacher, seed, train_ds):
        student = _student(s, seed)
        plan = method.plan(
            s.method,
            teacher,
            student,
            train_ds=train_ds,
            total_steps=s.epochs * s.steps_per_epoch,
        )
        info = dict(plan.info)
        if plan.teacher is not None:
            info["adapted_model"] = plan.teacher
        distiller = kd.Distiller(
            plan.teacher or teacher,
            student,
            losses=plan.losses,
            student_loss_weight=1.0 - s.method.kd_weight,
        )
        distiller.compile(
            _optimizer(s), metrics=["accuracy"], jit_compile=JIT_COMPILE
        )
        return (
            distiller,
            student,
            info,
            (method.teacher_cache if cached is None else cached),
        )

    return run


def _keras(loss):
    """Keras's own Distiller with `LogitsDistillation(loss=loss())`."""

    def run(s, teacher, seed, train_ds):
        del train_ds
        student = _student(s, seed)
        distiller = keras.distillation.Distiller(
            teacher=teacher,
            student=student,
            distillation_losses=keras.distillation.LogitsDistillation(
                temperature=s.method.temperature, loss=loss()
            ),
            student_loss_weight=1.0 - s.method.kd_weight,
        )
        distiller.compile(
            optimizer=_optimizer(s),
            loss=training.hard_label_loss(),
            metrics=["accuracy"],
            jit_compile=JIT_COMPILE,
        )
        return distiller, student, {}, False

    return run


def train(
    method,
    s,
    teacher,
    seed,
    make_train_ds,
    eval_ds,
    train_eval_ds,
    steps_per_epoch=None,
    backup_dir=None,
):
    """Trains one (method, seed) pair and returns its measured row.

    `make_train_ds(seed, with_teacher_outputs)` gives the seed's views;
    methods that warm up trainable parts (AMA) do so on seed 10000's views,
    the same for every student seed. `steps_per_epoch` is for a dataset
    that repeats (None: one pass is an epoch). With `backup_dir`, the run
    is backed up after every epoch (`kd.callbacks.BackupAndRestore`) and a
    rerun after an interruption goes on from the last finished epoch; the
    row's `resumed_at_epoch` lists the epochs it resumed at.
    """
    warms_up = (
        method in kd.recipes.methods.names()
        and kd.recipes.methods.get(method).warms_up
    )
    model, student, info, cached = RUNNERS[method](
        s, teacher, seed, make_train_ds(10_000, False) if warms_up else None
    )
    adapted_model = info.pop("adapted_model", None)
    if adapted_model is not None:
        info["adapted_teacher_accuracy_start"] = evaluate(
            adapted_model, eval_ds
        )[0]
    callbacks = [_EpochRecorder(student, eval_ds)]
    if backup_dir:
        callbacks = [
            _EpochRecorder(
                student, eval_ds, os.path.join(backup_dir, "epochs.json")
            ),
            kd.callbacks.BackupAndRestore(backup_dir),
        ]
    recorder = callbacks[0]
    history = model.fit(
        make_train_ds(seed, cached),
        epochs=s.epochs,
        steps_per_epoch=steps_per_epoch,
        verbose=0,
        shuffle=False,
        callbacks=callbacks,
    )
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
        "resumed_at_epoch": recorder.resumed_at_epoch,
        **info,
    }
    if adapted_model is not None:
        row["adapted_teacher_accuracy"] = evaluate(adapted_model, eval_ds)[0]
    return row


# The benchmark's baselines, then every method of kd_toolkit's registry.
BASELINES = {
    "alone": run_alone,
    "kd_live": _registered("kd", cached=False),
    "keras_fair": _keras(keras.losses.KLDivergence),
    "keras_default": _keras(lambda: "kl_divergence"),
}
RUNNERS = {
    **BASELINES,
    **{name: _registered(name) for name in kd.recipes.methods.names()},
}
METHOD_NAMES = tuple(RUNNERS)
