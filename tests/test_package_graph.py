"""The package graph of kd_toolkit has no cycle and only points down.

Read from the source with `ast` (every `import`, at module level or inside
a function), so the test needs no TensorFlow and cannot be fooled by the
order in which `kd_toolkit/__init__.py` happens to import the packages.
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kd_toolkit"

# Lower layers first; a package may import only packages of lower layers.
LAYERS = [
    {"console", "utils", "version"},
    {"data", "models"},
    {"adaptation", "export"},
    {"losses"},
    {"distiller"},
    {"callbacks", "compress", "pretrained"},
    {"recipes"},
    {"cli"},
    {"train"},
]


def _package(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0] if parts[0] != "__init__" else None


def _imported_packages(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [
                f"{node.module}.{a.name}" for a in node.names
            ]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "kd_toolkit" and len(parts) > 1:
                found.add(parts[1])
    return found


def _graph():
    graph = {}
    for path in ROOT.rglob("*.py"):
        package = _package(path)
        if package is None:
            continue
        edges = graph.setdefault(package, set())
        edges |= _imported_packages(path) - {package}
    return graph


def test_every_package_is_placed_in_a_layer():
    placed = set().union(*LAYERS)
    assert set(_graph()) <= placed, set(_graph()) - placed


def test_packages_import_only_lower_layers():
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    upward = sorted(
        (package, target)
        for package, targets in _graph().items()
        for target in targets
        if layer[target] >= layer[package]
    )
    assert not upward, f"imports that do not point down: {upward}"


def test_the_check_catches_a_cycle():
    graph = _graph()
    graph["adaptation"] = graph["adaptation"] | {"distiller"}
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    assert any(layer[t] >= layer[p] for p, ts in graph.items() for t in ts)
