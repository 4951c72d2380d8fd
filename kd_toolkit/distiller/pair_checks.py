"""The Distiller's checks of a teacher-student pair and of the hard-label
loss, before anything trains: each error names the argument, what was
expected and what was received."""

import keras
from keras import ops

from kd_toolkit.distiller import feature_taps


def check_models(teacher, student):
    """Checks the pair; returns `(input shape, student class count)`; the
    shape is None when it cannot be known without a built model.

    Raises:
        TypeError: if either is not a `keras.Model`.
        ValueError: on a model with several outputs, the same model (or
            shared weights) as both, different input shapes or class
            counts, or a student whose class count cannot be inferred.
    """
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"`{role}` must be a keras.Model. "
                f"Received: {role}={model!r} of type {type(model).__name__}"
            )
        if feature_taps.is_graph_model(model) and len(model.outputs) != 1:
            names = [t.name for t in model.outputs]
            raise ValueError(
                f"The Distiller needs a {role} with one output (the class "
                f"scores). Choose one, e.g. keras.Model({role}.inputs, "
                f"{role}.outputs[0]). Received: {role} '{model.name}' with "
                f"{len(names)} outputs {names}"
            )
    if teacher is student:
        raise ValueError(
            "`teacher` and `student` must be two models: the same object "
            "passed as both would have nothing to learn (the teacher is "
            "frozen, so the student would not train either). Build a new "
            "student, e.g. with keras.models.clone_model(teacher). "
            f"Received: teacher=student={teacher.name!r}"
        )
    teacher_vars = {id(v) for v in teacher.weights}
    shared = [v.path for v in student.weights if id(v) in teacher_vars]
    if shared:
        raise ValueError(
            "`student` shares weights with `teacher`: training the student "
            "would change the frozen teacher. Build the student with its own "
            "layers (e.g. keras.models.clone_model). Received: "
            f"{len(shared)} shared weights, e.g. {shared[:3]}"
        )
    t_in, s_in = _input_shape(teacher), _input_shape(student)
    if t_in is not None and s_in is not None and not _compatible(t_in, s_in):
        raise ValueError(
            "Teacher and student must take the same input shape. Received: "
            f"teacher input shape {t_in}, student input shape {s_in}"
        )
    shape = s_in if s_in is not None else t_in
    t_out = _output_classes(teacher, "teacher", shape)
    s_out = _output_classes(student, "student", shape)
    if t_out is not None and s_out is not None and t_out != s_out:
        raise ValueError(
            "Teacher and student must predict the same number of classes. "
            f"Received: teacher num_classes={t_out}, student "
            f"num_classes={s_out}"
        )
    if s_out is None:
        raise ValueError(
            f"Cannot infer the number of classes of subclassed model "
            f"'{student.name}': build it with a known input shape first."
        )
    return shape, int(s_out)


def _output_classes(model, role, shape):
    """Class count of a model: from its graph, or a probe run."""
    if feature_taps.is_graph_model(model):
        return model.outputs[0].shape[-1]
    if shape is None or any(d is None for d in shape):
        return None
    output = model(ops.zeros((1,) + tuple(shape)))
    if isinstance(output, (list, tuple, dict)):
        raise ValueError(
            f"The Distiller needs a {role} with one output (the class "
            f"scores). Received: {role} '{model.name}' returning a "
            f"{type(output).__name__} of {len(output)} outputs"
        )
    return int(output.shape[-1])


def _input_shape(model):
    if not feature_taps.is_graph_model(model):
        return None
    shape = model.input_shape
    return tuple(shape[1:]) if isinstance(shape, tuple) else None


def _compatible(a, b):
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b)
    )


def check_student_loss(loss, student_outputs):
    if loss is None:
        return None
    fn = keras.losses.get(loss)
    from_logits = None
    if isinstance(fn, keras.losses.Loss):
        from_logits = fn.get_config().get("from_logits")
    elif isinstance(loss, str) and "crossentropy" in loss:
        from_logits = False  # Keras's string losses assume probabilities.
    expects = "logits" if from_logits else "probabilities"
    if from_logits is not None and expects != student_outputs:
        fix = (
            "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
            if student_outputs == "logits"
            else "keras.losses.SparseCategoricalCrossentropy()"
        )
        raise ValueError(
            f"`loss` expects the student to output {expects} "
            f"(from_logits={from_logits}), but the student outputs "
            f"{student_outputs}: it would train on the wrong quantity. Pass "
            f"loss=None (cross-entropy matched to the student) or {fix}. "
            f"Received: loss={_describe(loss, from_logits)}"
        )
    return fn


def _describe(loss, from_logits):
    if isinstance(loss, keras.losses.Loss):
        return f"{type(loss).__name__}(from_logits={from_logits})"
    return repr(loss)
