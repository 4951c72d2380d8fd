"""The Distiller: a `keras.Model` that trains a student from a teacher."""

import contextlib
import warnings

import keras
import tensorflow as tf
from keras import ops
from keras import tree

from kd_toolkit.data.catalog import UNLABELED
from kd_toolkit.distiller import batch_norm_folding
from kd_toolkit.distiller import feature_taps
from kd_toolkit.distiller import fingerprint
from kd_toolkit.distiller import input_check
from kd_toolkit.distiller import label_check
from kd_toolkit.distiller import loss_reduction
from kd_toolkit.distiller import pair_checks
from kd_toolkit.distiller import teacher_cache
from kd_toolkit.distiller import teacher_check
from kd_toolkit.distiller.callbacks import StopOnNonFiniteLoss
from kd_toolkit.distiller.jit import auto_jit_compile
from kd_toolkit.distiller.output_kind import detect_output_kind
from kd_toolkit.distiller.output_kind import one_hot_labels
from kd_toolkit.distiller.output_kind import to_logits
from kd_toolkit.distiller.resume import BackupAndRestore
from kd_toolkit.distiller.resume import replay_epochs
from kd_toolkit.losses import loss_registry
from kd_toolkit.losses.base import LossInputs
from kd_toolkit.utils import compat
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
        if num_classes is None:
            raise ValueError(
                f"Cannot infer the number of classes of subclassed model "
                f"'{student.name}': build it with a known input shape first."
            )
        self.num_classes = int(num_classes)
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
        self._teacher_names = _unique(
            n
            for loss in self.distillation_losses
            for n in loss.teacher_feature_names()
        )
        self._student_names = _unique(
            n
            for loss in self.distillation_losses
            for n in loss.student_feature_names()
        )
        self._teacher_view = feature_taps.build_view(
            teacher, self._teacher_names, "teacher"
        )
        self.fold_teacher_batch_norm = bool(fold_teacher_batch_norm)
        self._frozen_teacher = _Untracked(None)
        if self.fold_teacher_batch_norm and not self._trains_teacher:
            graph = self._teacher_view or teacher
            folded = batch_norm_folding.fold_batch_norm(
                graph, keep=self._teacher_names
            )
            if folded is not graph:
                self._frozen_teacher = _Untracked(folded)
        self._student_view = feature_taps.build_view(
            student, self._student_names, "student"
        )
        t_shapes = _shapes(teacher, self._teacher_names)
        s_shapes = _shapes(student, self._student_names)
        for loss in self.distillation_losses:
            loss.build_from_features(t_shapes, s_shapes)
        term_names = ["student_loss"] + _unique(
            _term_names(self.distillation_losses)
        )
        # Terms from the hard labels: averaged over labeled examples only.
        self._label_terms = {"student_loss"} | {
            n
            for loss in self.distillation_losses
            for n in loss.label_term_names()
        }
        self._term_trackers = [keras.metrics.Mean(name=n) for n in term_names]
        self._total_tracker = keras.metrics.Mean(name="loss")
        self._student_loss_fn = None
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
        self._student_loss_fn = pair_checks.check_student_loss(
            loss, self.student_outputs
        )
        self._student_loss_arg = loss
        if jit_compile == "auto":
            jit_compile = auto_jit_compile(self)
        elif not isinstance(jit_compile, bool):
            raise ValueError(
                "`jit_compile` must be True, False or 'auto'. Received: "
                f"jit_compile={jit_compile!r}"
            )
        super().compile(
            optimizer=optimizer,
            metrics=metrics,
            jit_compile=jit_compile,
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
        callbacks = list(callbacks or [])
        if self.stop_on_nonfinite_loss and not any(
            isinstance(c, StopOnNonFiniteLoss) for c in callbacks
        ):
            callbacks.append(StopOnNonFiniteLoss())
        input_check.check_inputs(x, y, self)
        x, y = self._checked_labels(x, y, "y")
        label_check.check_array_weights(kwargs.get("sample_weight"))
        label_check.check_class_weight(kwargs.get("class_weight"))
        if isinstance(validation_data, tf.data.Dataset):
            validation_data, _ = self._checked_labels(
                validation_data, None, "validation labels"
            )
        elif (
            isinstance(validation_data, (tuple, list))
            and len(validation_data) >= 2
        ):
            label_check.check_array_labels(
                validation_data[1], self.num_classes, "validation_data[1]"
            )
            if len(validation_data) == 3:
                label_check.check_array_weights(
                    validation_data[2], "validation_data[2]"
                )
        if self.check_teacher and validation_data is not None:
            teacher_check.warn_if_near_chance(self, validation_data)
        initial_epoch = kwargs.get("initial_epoch", 0)
        resume_epoch = self._prepare_resume(x, callbacks, initial_epoch)
        counter = _BatchCounter()
        try:
            history = super().fit(
                x,
                y,
                *args,
                callbacks=callbacks + [counter],
                validation_data=validation_data,
                **kwargs,
            )
        finally:
            self._batches_to_skip = 0
        epochs = kwargs.get("epochs", args[1] if len(args) > 1 else 1)
        if counter.batches == 0 and epochs > max(initial_epoch, resume_epoch):
            raise ValueError(
                "`fit` ran no training step: the training data is empty. "
                f"Received: x={_describe_data(x)}"
            )
        return history

    def _prepare_resume(self, x, callbacks, initial_epoch):
        """Positions the data and the batch skip of a resumed run; returns
        the epoch it resumes in (0 without a backup)."""
        for c in callbacks:
            if (
                type(c) is keras.callbacks.BackupAndRestore
                and c.save_freq != "epoch"
            ):
                warnings.warn(
                    "keras.callbacks.BackupAndRestore restarts an interrupted "
                    "epoch from its first batch, training twice on the "
                    "batches before the backup; "
                    "kd_toolkit.callbacks.BackupAndRestore resumes after "
                    "them.",
                    stacklevel=3,
                )
        backups = [c for c in callbacks if isinstance(c, BackupAndRestore)]
        if not backups:
            return 0
        epoch, batches_done = backups[0].resume_point()
        if isinstance(x, tf.data.Dataset):
            replay_epochs(self, x, max(0, epoch - initial_epoch))
        self._batches_to_skip = batches_done
        return epoch

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras averages the first batch over the replicas (only its shapes
        # matter) with `strategy.reduce`, which fails under
        # MultiWorkerMirroredStrategy ("Attempt to convert a value
        # (PerReplica...) to a Tensor"; Keras 3.15, TF 2.21). One replica's
        # batch has the same shapes: build from it instead.
        if (
            iterator is not None
            and compat.distribute_strategy_or_none(self) is not None
        ):
            strategy = self.distribute_strategy
            for _, _, batches in iterator:
                data_batch = tree.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0],
                    next(batches),
                )
                break
        super()._maybe_symbolic_build(data_batch=data_batch)

    def make_train_function(self, force=False):
        """Keras's train function, reading past the batches to skip."""
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=force)
        train_step = self.train_function

        def train_function(iterator):
            if self._batches_to_skip <= 0:
                return train_step(iterator)
            # One call covers `steps_per_execution` batches.
            for _ in range(self.steps_per_execution):
                next(iterator)
            self._batches_to_skip -= self.steps_per_execution
            return {}

        self.train_function = train_function
        return self.train_function

    def _checked_labels(self, x, y, arg):
        """Label range checks that also hold under XLA."""
        if isinstance(x, tf.data.Dataset):
            return label_check.checked_dataset(x, self.num_classes), y
        if y is not None and not isinstance(y, (tf.Tensor, dict)):
            label_check.check_array_labels(y, self.num_classes, arg)
        return x, y

    # -- steps ----------------------------------------------------------
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, cached, cached_feats = teacher_cache.split_inputs(x)
        live = None
        if (
            self._teacher_runs(cached, cached_feats)
            and not self._trains_teacher
        ):
            live = self._run_teacher(x, training=False)
        weights = self.trainable_weights
        # Watch only what trains: frozen teacher variables read inside the
        # tape (adapted teachers) would otherwise get backward passes too.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([w.value for w in weights])
            if self._trains_teacher:
                live = self._run_teacher(x, training=True)
            student_out = self._run(self.student, self._student_view, x, True)
            terms, total, labeled = self._loss_terms(
                y,
                sample_weight,
                (cached, cached_feats),
                live,
                student_out,
                training=True,
            )
            scaled = self.optimizer.scale_loss(total)
        grads = tape.gradient(scaled, weights)
        self.optimizer.apply(grads, weights)
        return self._update_metrics(
            x, (y, labeled), sample_weight, student_out[0], (terms, total)
        )

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x, cached, cached_feats = teacher_cache.split_inputs(x)
        live = (
            self._run_teacher(x, training=False)
            if self._teacher_runs(cached, cached_feats)
            else None
        )
        student_out = self._run(self.student, self._student_view, x, False)
        terms, total, labeled = self._loss_terms(
            y,
            sample_weight,
            (cached, cached_feats),
            live,
            student_out,
            training=False,
        )
        return self._update_metrics(
            x, (y, labeled), sample_weight, student_out[0], (terms, total)
        )

    # -- helpers --------------------------------------------------------
    def _teacher_runs(self, cached, cached_feats):
        """Whether the teacher runs in a step. Cached logits (and cached
        features) stand in for its outputs, but a loss that reads a feature
        the cache lacks, or trains the teacher (AMA's adapters), still
        needs it to run."""
        missing = any(n not in cached_feats for n in self._teacher_names)
        return cached is None or missing or self._trains_teacher

    def _run_teacher(self, x, training):
        """The teacher's `[output, *features]`; in inference, from its
        batch-norm-folded graph when there is one."""
        folded = self._frozen_teacher.model
        if folded is not None and not training:
            outputs = folded(x, training=False)
            return list(outputs) if self._teacher_names else [outputs]
        return self._run(self.teacher, self._teacher_view, x, training)

    @staticmethod
    def _run(model, view, x, training):
        if view is None:
            return [model(x, training=training)]
        return list(view(x, training=training))

    def _labels(self, y, like):
        """Labels -> `(one-hot float32 (batch, classes), labeled float32
        (batch,))`. No labels (`y` None), the class id `UNLABELED` (-1) and
        a row of zeros mark unlabeled examples: a zero one-hot row and 0 in
        `labeled`. Integer labels are checked to be in range first. `like`:
        a `(batch, ...)` tensor giving the batch size when `y` is None."""
        if y is None:
            batch = ops.shape(like)[0]
            return (
                ops.zeros((batch, self.num_classes), "float32"),
                ops.zeros((batch,), "float32"),
            )
        y = tf.convert_to_tensor(y)
        if y.shape.rank == 2 and y.shape[-1] == self.num_classes:
            labels = one_hot_labels(y, self.num_classes)
            return labels, ops.cast(ops.sum(labels, axis=-1) > 0, "float32")
        y = tf.reshape(tf.cast(y, "int32"), [-1])
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater_equal(
                    y,
                    UNLABELED,
                    message="Labels must be in [0, num_classes), or -1 for "
                    "an unlabeled example. Received: a label < -1 in y",
                ),
                tf.debugging.assert_less(
                    y,
                    self.num_classes,
                    message="Labels must be in [0, num_classes="
                    f"{self.num_classes}). Received: a label >= "
                    "num_classes in y",
                ),
            ]
        ):
            # one_hot of -1 is a row of zeros.
            labels = one_hot_labels(y, self.num_classes)
            return labels, ops.cast(y >= 0, "float32")

    def _loss_terms(
        self, y, sample_weight, cached, live, student_out, training
    ):
        """`(terms, total, labeled)` of one step: each term's loss, their
        sum, and the batch's labeled mask. `cached`: `(outputs, features)`,
        the batch's cached teacher outputs (or None) and features (a dict);
        `live`: the teacher's outputs in this step (`[output, *features]`)
        or None when it did not run."""
        cached, cached_feats = cached
        labels, labeled = self._labels(y, student_out[0])
        live_logits = (
            None if live is None else to_logits(live[0], self.teacher_outputs)
        )
        t_logits = (
            live_logits
            if cached is None
            else to_logits(cached, self.teacher_outputs)
        )
        s_logits = to_logits(student_out[0], self.student_outputs)
        t_feats = (
            {n: cached_feats[n] for n in self._teacher_names}
            if live is None
            else dict(zip(self._teacher_names, live[1:]))
        )
        if not self._trains_teacher:
            t_logits = ops.stop_gradient(t_logits)
            t_feats = {k: ops.stop_gradient(v) for k, v in t_feats.items()}
        inputs = LossInputs(
            labels=labels,
            teacher_logits=t_logits,
            student_logits=s_logits,
            teacher_features=t_feats,
            student_features=dict(zip(self._student_names, student_out[1:])),
            training=training,
            live_teacher_logits=live_logits,
            labeled=labeled,
        )
        if self._student_loss_fn is None:
            ce = keras.losses.categorical_crossentropy(
                labels, s_logits, from_logits=True
            )
        elif y is None:
            ce = ops.zeros_like(labeled)
        else:
            fn = self._student_loss_fn
            if isinstance(fn, keras.losses.Loss):
                fn = fn.call  # unreduced: sample weights apply below
            ce = ops.cast(
                fn(loss_reduction.known_labels(y), student_out[0]), "float32"
            )
        per_sample = {"student_loss": self.student_loss_weight * ce}
        sg_inputs = LossInputs(
            labels=labels,
            teacher_logits=ops.stop_gradient(t_logits),
            teacher_features={
                k: ops.stop_gradient(v) for k, v in t_feats.items()
            },
            student_logits=s_logits,
            student_features=inputs.student_features,
            training=training,
            live_teacher_logits=(
                None if live_logits is None else ops.stop_gradient(live_logits)
            ),
            labeled=labeled,
        )
        for loss in self.distillation_losses:
            for name, value in loss.compute(
                inputs if loss.trains_teacher else sg_inputs
            ).items():
                per_sample[name] = per_sample.get(name, 0.0) + value
        terms = {
            n: loss_reduction.labeled_mean(v, labeled, sample_weight)
            if n in self._label_terms
            else loss_reduction.batch_mean(v, sample_weight)
            for n, v in per_sample.items()
        }
        total = sum(terms.values())
        if training and self.student.losses:
            total = total + ops.sum(self.student.losses)
        return terms, total, labeled

    def _update_metrics(self, x, y, sample_weight, y_pred, losses):
        """Updates the loss trackers (`losses`: the step's `(terms,
        total)`) and the compiled metrics; `y` is `(labels or None, labeled
        mask)`: label-based metrics count the labeled examples only."""
        y, labeled = y
        terms, total = losses
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self._total_tracker.update_state(total * replicas)
        for tracker in self._term_trackers:
            tracker.update_state(terms[tracker.name] * replicas)
        if y is None:
            # Class 0 everywhere at weight 0: the metrics see no example
            # (and are built, as Keras builds them on their first batch).
            y = ops.zeros_like(labeled, dtype="int32")
        loss_reduction.update_compiled_metrics(
            self, loss_reduction.known_labels(y), y_pred, labeled, sample_weight
        )
        logs = self.get_metrics_result()
        if isinstance(
            tf.distribute.get_strategy(),
            tf.distribute.MultiWorkerMirroredStrategy,
        ):
            # Keras reduces the step's logs across workers with
            # `strategy.reduce("MEAN", value, axis=0)`, which fails on
            # scalars (Keras 3.15, TF 2.21): give each a length-1 axis.
            logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
        return logs

    def backup_fingerprint(self):
        """What a `BackupAndRestore` backup of this run must match.

        A backup holds the teacher's weights too: restoring one made for
        another teacher would silently distil from the old one. The
        fingerprint names what makes two runs the same: the teacher's
        frozen weights, the student's architecture and the losses.

        Returns:
            A dict of str digests, `{"teacher", "student", "losses"}`.
        """
        return {
            "teacher": fingerprint.weights_digest(
                fingerprint.frozen_weights(self.teacher)
            ),
            "student": fingerprint.architecture_digest(self.student),
            "losses": fingerprint.config_digest(
                [
                    [type(loss).__name__, loss.get_config()]
                    for loss in self.distillation_losses
                ]
            ),
        }

    # -- serialization --------------------------------------------------
    def save(self, filepath, *args, **kwargs):
        """`keras.Model.save`, without the frozen teacher's own optimizer.

        A teacher loaded from a compiled `.keras` file carries the optimizer
        state of its earlier training (Adam keeps two slots per weight: for
        an EfficientNetV2B0 teacher, 45 of a 69 MiB file). Distillation
        never uses it, so it is left out of the Distiller's files; the
        teacher object itself keeps it.
        """
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

    @contextlib.contextmanager
    def _frozen_teacher_without_optimizer(self):
        optimizer = (
            self.teacher.optimizer
            if self.teacher.compiled and not self._trains_teacher
            else None
        )
        if optimizer is None:
            yield
            return
        self.teacher.optimizer = None
        try:
            yield
        finally:
            self.teacher.optimizer = optimizer

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


def _shapes(model, names):
    return {n: feature_taps.feature_shape(model, n) for n in names}


def _term_names(losses):
    """Metric names the losses report, in order."""
    names = []
    for loss in losses:
        names.extend(loss.metric_names())
    return names


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


class _Untracked:
    """Holds a model Keras must not track: the teacher's folded graph shares
    the teacher's variables, which are saved once, with the teacher."""

    def __init__(self, model):
        self.model = model


class _BatchCounter(keras.callbacks.Callback):
    """Counts the training batches one `fit` runs."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def _describe_data(x):
    if isinstance(x, tf.data.Dataset):
        return f"a tf.data.Dataset of {int(x.cardinality())} batches"
    shape = getattr(x, "shape", None)
    return (
        f"{type(x).__name__} of shape {shape}"
        if shape is not None
        else (type(x).__name__)
    )
