"""What `jit_compile="auto"` means for a Distiller."""

import tensorflow as tf

from kd_toolkit.utils import compat
from kd_toolkit.utils import cpu


def auto_jit_compile(model):
    """What `jit_compile="auto"` resolves to for a Distiller.

    With an accelerator it follows Keras's own `"auto"` and turns XLA on.
    On a CPU-only machine Keras keeps it off; we turn it on where we
    measured it faster, on x86 CPUs with AVX2 and without AVX-512
    (`kd_toolkit.utils.cpu`; the environment variable `KD_TOOLKIT_CPU_XLA`
    set to `"1"` or `"0"` overrides that rule). It is always off under a
    multi-replica `tf.distribute` strategy (Keras's rule), with op
    determinism enabled (not every op has a deterministic XLA kernel), and
    when a layer declares `supports_jit = False`.
    """
    if tf.distribute.has_strategy() and (
        tf.distribute.get_strategy().num_replicas_in_sync > 1
    ):
        return False
    if compat.op_determinism_enabled():
        return False
    if not all(layer.supports_jit for layer in compat.flatten_layers(model)):
        return False
    if any(d.device_type != "CPU" for d in tf.config.list_physical_devices()):
        return True
    return cpu.xla_on_cpu()


def resolve_jit_compile(model, jit_compile):
    """`compile(jit_compile=...)` of a Distiller as a bool.

    Raises:
        ValueError: if `jit_compile` is not a bool or `"auto"`.
    """
    if jit_compile == "auto":
        return auto_jit_compile(model)
    if not isinstance(jit_compile, bool):
        raise ValueError(
            "`jit_compile` must be True, False or 'auto'. Received: "
            f"jit_compile={jit_compile!r}"
        )
    return jit_compile
