"""No two modules of the package share a file name, and no two classes a
name: a reader (and a traceback) can tell every piece apart by name. The
private Keras / TensorFlow APIs are reached only through utils/compat.py."""

import ast
import collections
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kd_toolkit"
# File names allowed twice, with the reason.
SHARED_FILE_NAMES = {
    # kd_toolkit/train.py keeps `python -m kd_toolkit.train` (the demo's
    # and the docs' command) working; the command line is cli/train.py.
    "train.py": 2,
}


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py")


def test_no_two_modules_share_a_file_name():
    counts = collections.Counter(p.name for p in _modules())
    repeated = {
        name: [str(p.relative_to(ROOT)) for p in _modules() if p.name == name]
        for name, n in counts.items()
        if n > SHARED_FILE_NAMES.get(name, 1)
    }
    assert not repeated, repeated


def test_no_two_classes_share_a_name():
    where = collections.defaultdict(list)
    for path in _modules():
        tree = ast.parse(path.read_text("utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                where[node.name].append(str(path.relative_to(ROOT)))
    repeated = {name: files for name, files in where.items() if len(files) > 1}
    assert not repeated, repeated


# Private Keras / TensorFlow APIs: reached only through utils/compat.py.
PRIVATE_API = re.compile(
    r"\._keras_history|\._inbound_nodes|\._outbound_nodes|\._flatten_layers"
    r"|\._compile_metrics|\._flat_(?:weighted_)?metrics|\._distribute_strategy"
    r"|(?:from|import) keras\.src|\"keras\.src"
    r"|(?:from|import) tensorflow\.(?:lite\.)?python"
)
COMPAT = ROOT / "utils" / "compat.py"


def test_private_keras_and_tensorflow_apis_only_in_compat():
    tests = ROOT.parent / "tests"
    users = {
        f"{path.relative_to(ROOT.parent)}:{number}": line.strip()
        for path in sorted([*ROOT.rglob("*.py"), *tests.rglob("*.py")])
        if path != COMPAT and path != pathlib.Path(__file__).resolve()
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if PRIVATE_API.search(line)
    }
    assert not users, users


def test_the_private_api_pattern_finds_the_compat_module_uses():
    # The check above cannot pass by matching nothing.
    found = [
        line
        for line in COMPAT.read_text("utf-8").splitlines()
        if PRIVATE_API.search(line)
    ]
    assert len(found) >= 8, found
