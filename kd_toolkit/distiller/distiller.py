"""The Distiller: a `keras.Model` that trains a student from a teacher."""

import keras
import tensorflow as tf
from keras import ops

from kd_toolkit.distiller import fingerprint
from kd_toolkit.distiller import fit_preflight
from kd_toolkit.distiller import loss_assembly
from kd_toolkit.distiller import loss_reduction
from kd_toolkit.distiller import pair_checks
from kd_toolkit.distiller import replica_batches
from kd_toolkit.distiller import teacher_source
from kd_toolkit.distiller.jit import resolve_jit_compile
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.distiller.resume import skipping_batches
from kd_toolkit.distiller.teacher_optimizer import without_teacher_optimizer
from kd_toolkit.losses import loss_registry
from kd_toolkit.utils.validation import check_non_negative


@keras.saving.register_keras_serializable(package="kd_toolkit")
class Distiller(keras.Model):
    """Trains a student from a frozen teacher with pluggable losses.

    One `train_step` runs the teacher (inference mode, frozen) and the
    student on the same batch, sums the student's cross-entropy and every
    distillation term, and updates the student and any trainable part the
    losses own (connectors, adapters). Each term is reported as its own
    metric (`student_loss`, `kd_loss`, `hint_loss`, ...); metrics passed to
    `compile` are computed on the student output. `call()` is the student.

    Output convention: both models may output logits or softmax
    probabilities; the kind is detected (`"auto"`) or declared. Losses always
    receive logits (log-probabilities for a softmax model). Labels may be
    integer class ids or one-hot/soft targets.

    Batches from a `kd_toolkit.TeacherLogitsCache` carry the teacher's
    logits, and the features it was asked to cache (e.g. the pooled
    embedding of RKD, SP, PKT and CRD): the teacher then does not run,
    unless a loss reads a feature the cache lacks or trains the teacher
    (FitNets, AMA), and every loss reads the cached logits (AMA's adapter
    terms read the adapted teacher's own).

    Interrupted runs resume to the exact batch with
    `kd_toolkit.callbacks.BackupAndRestore`; `tf.distribute`'s
    `MirroredStrategy` and `MultiWorkerMirroredStrategy` are supported
    (`docs/distributed.md`).

    Args:
        teacher: a trained `keras.Model`. Frozen unless a loss declares
            `trains_teacher` (e.g. activation map adaptation).
        student: the `keras.Model` to train.
        losses: list of `DistillationLoss` instances or registered names
            (`kd_toolkit.losses.names()`).
        student_loss_weight: float >= 0. Weight of the hard-label
            cross-entropy. Defaults to `1.0`.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        student_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        stop_on_nonfinite_loss: bool. Adds `StopOnNonFiniteLoss` to every
            `fit`. Defaults to `True`.
        check_teacher: bool. When `fit` gets `validation_data`, measure
            the teacher's top-1 on its first batches and warn if it is near
            chance (untrained teacher, stale batch-norm statistics, wrong
            preprocessing). Defaults to `True`.
        fold_teacher_batch_norm: bool. Run the frozen teacher with each
            convolution + batch-norm pair folded into one convolution
            (`kd_toolkit.distiller.batch_norm_folding`): the same function,
            computed from the teacher's own variables at every step, with
            one pass over each activation less. Ignored when a loss trains
            the teacher. Defaults to `True`.
        name: str. Model name.

    Raises:
        ValueError: on mismatched input shapes or class counts, unknown loss
            names, unknown feature layer names, or an output kind that
            contradicts the model.

    Example:

    ```python
    distiller = kd_toolkit.Distiller(
        teacher, student, losses=[kd_toolkit.losses.KD(temperature=4.0)])
    distiller.compile(optimizer="adam", metrics=["accuracy"])
    distiller.fit(train_ds, validation_data=test_ds, epochs=10)
    distiller.student.save("student.keras")
    ```
    """

    def __init__(
        self,
        teacher,
        student,
        losses=("kd",),
        student_loss_weight=1.0,
        teacher_outputs="auto",
        student_outputs="auto",
        stop_on_nonfinite_loss=True,
        check_teacher=True,
        fold_teacher_batch_norm=True,
        name="distiller",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        input_shape, num_classes = pair_checks.check_models(teacher, student)
        if isinstance(losses, (str, bytes)) or not isinstance(
            losses, (list, tuple)
        ):
            losses = [losses]
        self.distillation_losses = [loss_registry.get(loss) for loss in losses]
        self.student_loss_weight = check_non_negative(
            "student_loss_weight", student_loss_weight
        )
        self.teacher = teacher
        self.student = student
        self.num_classes = num_classes
        self.teacher_outputs = detect_output_kind(
            teacher, teacher_outputs, "teacher", input_shape
        )
        self.student_outputs = detect_output_kind(
            student, student_outputs, "student", input_shape
        )
        self.stop_on_nonfinite_loss = bool(stop_on_nonfinite_loss)
        self.check_teacher = bool(check_teacher)
        self._trains_teacher = any(
            loss.trains_teacher for loss in self.distillation_losses
        )
        if not self._trains_teacher:
            teacher.trainable = False
        t_names, self._teacher_view, s_names, self._student_view = (
            teacher_source.build_views(
                teacher, student, self.distillation_losses
            )  # and builds each loss from the shapes of what it reads
        )
        self._student_names = s_names
        self.fold_teacher_batch_norm = bool(fold_teacher_batch_norm)
        # Plain Python objects, untracked by Keras: they hold the models
        # and losses tracked above (see their docstrings).
        self._teacher_source = teacher_source.TeacherSource(
            teacher,
            self._teacher_view,
            t_names,
            self.teacher_outputs,
            self._trains_teacher,
            self.fold_teacher_batch_norm,
        )
        self._assembly = loss_assembly.LossAssembly(
            self.distillation_losses,
            self.student_loss_weight,
            self.num_classes,
            self.student_outputs,
        )
        self._term_trackers = [
            keras.metrics.Mean(name=n) for n in self._assembly.term_names
        ]
        self._total_tracker = keras.metrics.Mean(name="loss")
        self._student_loss_arg = None
        # Batches of the resumed epoch a `BackupAndRestore` backup already
        # trained on: `fit` reads past them without a training step.
        self._batches_to_skip = 0
        # Teacher, student and every loss part are built above: saving must
        # not warn that the model "has not yet been built".
        self.built = True

    # -- Keras plumbing -------------------------------------------------
    def compile(
        self,
        optimizer="adam",
        loss=None,
        metrics=None,
        jit_compile="auto",
        **kwargs,
    ):
        """Configures training.

        Args:
            optimizer: optimizer for the student and trainable loss parts.
            loss: optional hard-label loss of the student. `None` (default)
                uses cross-entropy matched to the student's output kind and
                label format. A Keras cross-entropy whose `from_logits`
                contradicts the student's outputs raises, instead of
                silently training on the wrong quantity.
            metrics: metrics on the student output, e.g. `["accuracy"]`.
            jit_compile: bool or `"auto"`. Compile each step with XLA.
                `"auto"` (default) is on with an accelerator and on CPUs
                where we measured XLA faster (AVX2 without AVX-512), off on
                other CPUs, under a multi-replica strategy and with op
                determinism (see `auto_jit_compile`).
            **kwargs: forwarded to `keras.Model.compile`.

        Raises:
            ValueError: if `loss` expects logits when the student outputs
                probabilities, or the reverse, or `jit_compile` is not a
                bool or `"auto"`.
        """
        self._assembly.student_loss_fn = pair_checks.check_student_loss(
            loss, self.student_outputs
        )
        self._student_loss_arg = loss
        super().compile(
            optimizer=optimizer,
            metrics=metrics,
            jit_compile=resolve_jit_compile(self, jit_compile),
            **kwargs,
        )

    def get_compile_config(self):
        """The `compile` arguments, so that `.keras` files restore them."""
        config = super().get_compile_config()
        if config is not None:
            config["loss"] = keras.saving.serialize_keras_object(
                self._student_loss_arg
            )
        return config

    def compile_from_config(self, config):
        """Re-compiles a loaded Distiller and builds its optimizer, so that
        `keras.models.load_model` restores the optimizer state too."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        own = [self._total_tracker] + list(self._term_trackers)
        return own + [
            m
            for m in super().metrics
            if all(m is not o for o in own) and m.name != "loss"
        ]

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def fit(
        self,
        x=None,
        y=None,
        *args,
        callbacks=None,
        validation_data=None,
        **kwargs,
    ):
        prepared = fit_preflight.prepare(
            self, x, y, validation_data, callbacks, kwargs
        )
        self._batches_to_skip = prepared.skip_batches
        try:
            history = super().fit(
                prepared.x,
                prepared.y,
                *args,
                callbacks=prepared.callbacks,
                validation_data=prepared.validation_data,
                **kwargs,
            )
        finally:
            self._batches_to_skip = 0
        fit_preflight.check_trained(prepared, args, kwargs)
        return history

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # A Keras hook (see kd_toolkit.utils.compat).
        data_batch = replica_batches.build_batch(self, iterator, data_batch)
        super()._maybe_symbolic_build(data_batch=data_batch)

    def make_train_function(self, force=False):
        """Keras's train function, reading past the batches to skip."""
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=force)
        self.train_function = skipping_batches(self, self.train_function)
        return self.train_function

    # -- steps ----------------------------------------------------------
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, cached = teacher_source.split_batch(x)
        source = self._teacher_source
        # The frozen teacher runs outside the tape: nothing to record.
        frozen = (
            source.run(x, training=False)
            if source.must_run(cached) and not self._trains_teacher
            else None
        )
        weights = self.trainable_weights
        # Watch only what trains: frozen teacher variables read inside the
        # tape (adapted teachers) would otherwise get backward passes too.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([w.value for w in weights])
            student, losses = self._forward(
                x, y, sample_weight, cached, frozen, training=True
            )
            scaled = self.optimizer.scale_loss(losses.total)
        grads = tape.gradient(scaled, weights)
        self.optimizer.apply(grads, weights)
        return self._update_metrics(y, sample_weight, student.output, losses)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, cached = teacher_source.split_batch(x)
        student, losses = self._forward(
            x, y, sample_weight, cached, None, training=False
        )
        return self._update_metrics(y, sample_weight, student.output, losses)

    def _forward(self, x, y, sample_weight, cached, live, training):
        """`(student ModelOutputs, StepLosses)` of one step; the teacher
        runs here unless `live` holds its outputs or it need not run."""
        source = self._teacher_source
        if live is None and source.must_run(cached):
            live = source.run(x, training=training)
        student = teacher_source.run_model(
            self.student, self._student_view, self._student_names, x, training
        )
        losses = self._assembly(
            y, sample_weight, source.signals(cached, live), student, training
        )
        if training and self.student.losses:
            losses = losses._replace(
                total=losses.total + ops.sum(self.student.losses)
            )
        return student, losses

    def _update_metrics(self, y, sample_weight, y_pred, losses):
        logs = loss_reduction.step_logs(
            self,
            (self._total_tracker, self._term_trackers),
            (y, sample_weight, y_pred),
            losses,
        )
        return replica_batches.reducible_logs(logs)

    def backup_fingerprint(self):
        """What a `BackupAndRestore` backup of this run must match: a dict
        of str digests, `{"teacher", "student", "losses"}` (`fingerprint`).
        """
        return fingerprint.run_fingerprint(
            self.teacher, self.student, self.distillation_losses
        )

    # -- serialization --------------------------------------------------
    def save(self, filepath, *args, **kwargs):
        """`keras.Model.save`, without the frozen teacher's own optimizer
        state, which distillation never uses (`teacher_optimizer`)."""
        with self._frozen_teacher_without_optimizer():
            return super().save(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        """`keras.Model.save_weights`, without the frozen teacher's own
        optimizer state (see `save`)."""
        with self._frozen_teacher_without_optimizer():
            return super().save_weights(filepath, *args, **kwargs)

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights` of a file written by `save_weights`
        (which leaves the frozen teacher's optimizer out)."""
        with self._frozen_teacher_without_optimizer():
            return super().load_weights(filepath, *args, **kwargs)

    def _frozen_teacher_without_optimizer(self):
        return without_teacher_optimizer(self.teacher, self._trains_teacher)

    def get_config(self):
        teacher = keras.saving.serialize_keras_object(self.teacher)
        if not self._trains_teacher:
            # Its optimizer state is not saved (see `save`): do not
            # recompile it on load either.
            teacher.pop("compile_config", None)
        return {
            "name": self.name,
            "teacher": teacher,
            "student": keras.saving.serialize_keras_object(self.student),
            "losses": [
                keras.saving.serialize_keras_object(loss)
                for loss in self.distillation_losses
            ],
            "student_loss_weight": self.student_loss_weight,
            "teacher_outputs": self.teacher_outputs,
            "student_outputs": self.student_outputs,
            "stop_on_nonfinite_loss": self.stop_on_nonfinite_loss,
            "check_teacher": self.check_teacher,
            "fold_teacher_batch_norm": self.fold_teacher_batch_norm,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("teacher", "student"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        config["losses"] = [
            keras.saving.deserialize_keras_object(c) for c in config["losses"]
        ]
        return cls(**config)
