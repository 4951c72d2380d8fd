"""Saving a Distiller without its frozen teacher's own optimizer state."""

import contextlib


@contextlib.contextmanager
def without_teacher_optimizer(teacher, trains_teacher):
    """Detaches a frozen, compiled teacher's optimizer for the duration.

    A teacher loaded from a compiled `.keras` file carries the optimizer
    state of its earlier training (Adam keeps two slots per weight: for an
    EfficientNetV2B0 teacher, 45 of a 69 MiB file). Distillation never uses
    it, so a Distiller's files leave it out; the teacher object keeps it
    (it is reattached on exit). A teacher that trains keeps it in the file.
    """
    optimizer = (
        teacher.optimizer if teacher.compiled and not trains_teacher else None
    )
    if optimizer is None:
        yield
        return
    teacher.optimizer = None
    try:
        yield
    finally:
        teacher.optimizer = optimizer
