"""The teacher's inference dtype for a cache build: bfloat16 where the CPU
computes it natively.

A cache build is teacher inference and nothing else, so its speed is the
teacher's. On a CPU with native bfloat16 (AMX or AVX512-BF16), a resnet20
teacher with batch norm folded ran 2.3x faster under Keras's
`"mixed_bfloat16"` policy than in float32 (batch 256, one interleaved run
on a 2-core AVX-512 + AMX machine; `python -m benchmarks.cache_scale`
measures it with each build); on CPUs without it bfloat16 is emulated and
slower. `"auto"` chooses by the CPU's flags, like `jit_compile="auto"`.

bfloat16 keeps 8 bits of mantissa: logits move by about 1% of their
range (0.09 at most on a batch of resnet20's, whose top-1 stayed the same
on every image), which a KD target at τ >= 1 barely feels. The layers
that produce the model's outputs stay float32, so the logits are computed
from bfloat16 features by a float32 head. The resolved dtype is part of
the cache's key: a store built in bfloat16 is not reused for float32.
"""

import keras
import tensorflow as tf

from kd_toolkit.utils import compat
from kd_toolkit.utils import cpu
from kd_toolkit.utils import validation
from kd_toolkit.utils.model_graph import is_graph_model

__all__ = ["TEACHER_DTYPES", "bfloat16_is_native", "cast_model", "resolve"]

TEACHER_DTYPES = ("auto", "float32", "bfloat16")


def bfloat16_is_native(flags):
    """Whether CPUs with these flags compute bfloat16 natively."""
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve(teacher_dtype, teacher):
    """`"float32"` or `"bfloat16"` for `teacher_dtype` and `teacher`.

    `"auto"` is bfloat16 on a CPU-only machine whose CPU computes it
    natively, for a functional or Sequential teacher (a subclassed model
    cannot be re-created in another dtype), and float32 otherwise.

    Raises:
        ValueError: for another value, or `"bfloat16"` with a subclassed
            teacher.
    """
    validation.check_choice("teacher_dtype", teacher_dtype, TEACHER_DTYPES)
    graph = is_graph_model(teacher)
    if teacher_dtype == "bfloat16" and not graph:
        raise ValueError(
            "teacher_dtype='bfloat16' needs a functional or Sequential "
            "teacher (its layers are re-created in bfloat16); this one is a "
            f"subclassed {type(teacher).__name__}. Pass teacher_dtype="
            "'float32' or 'auto'. Received: teacher_dtype='bfloat16'"
        )
    if teacher_dtype != "auto":
        return teacher_dtype
    native = bfloat16_is_native(cpu.cpu_flags())
    gpu = bool(tf.config.list_logical_devices("GPU"))
    return "bfloat16" if graph and native and not gpu else "float32"


def cast_model(teacher, dtype):
    """`teacher` itself for float32; for bfloat16 a copy of it whose
    layers compute in `"mixed_bfloat16"` (float32 weights, bfloat16
    activations), the layers that produce its outputs kept in float32.

    The copy holds copies of the weights: build it from a frozen teacher.
    """
    if dtype == "float32":
        return teacher
    outputs = {compat.producing_layer(t).name for t in teacher.outputs}

    def clone(layer):
        config = layer.get_config()
        if layer.name not in outputs and "dtype" in config:
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(
        teacher, clone_function=clone, recursive=True
    )
    copy.set_weights(teacher.get_weights())
    return copy
