"""Every benchmark module imports beside every other one.

absl flags are global: two modules that define `rounds` at import cannot
both be imported by the suite. Each benchmark defines its flags in
`define_flags()`, called only when it runs as a script.
"""

import importlib
import pathlib
import pkgutil

from absl import flags

import benchmarks


def _modules():
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__))


def test_importing_every_benchmark_defines_no_flag():
    names = _modules()
    assert {"accuracy", "cache_scale", "throughput"} <= set(names)
    for name in names:
        importlib.import_module(f"benchmarks.{name}")
    defined = {
        module: [f.name for f in module_flags]
        for module, module_flags in flags.FLAGS.flags_by_module_dict().items()
        if module.startswith("benchmarks")
    }
    assert defined == {}


def test_every_script_with_flags_defines_them_in_one_function():
    for name in _modules():
        module = importlib.import_module(f"benchmarks.{name}")
        source = pathlib.Path(module.__file__).read_text()
        if "flags.DEFINE" in source:
            assert callable(getattr(module, "define_flags", None)), name
            assert "    define_flags()\n    app.run(main)" in source, name
