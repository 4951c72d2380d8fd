"""No two modules of the package share a file name, and no two classes a
name: a reader (and a traceback) can tell every piece apart by name."""

import ast
import collections
import pathlib

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
