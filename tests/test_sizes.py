"""Every module of the package is under 400 lines and every function's
body under 80 (its code after the docstring), or its docstring says why in
one line that starts with "Size:". A reason is a debt, listed by
`python -m pytest tests/test_sizes.py -rP`."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "kd_toolkit"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80
REASON = "Size:"


def _modules():
    return sorted(ROOT.rglob("*.py"))


def _has_reason(docstring):
    return any(
        line.strip().startswith(REASON) and len(line.strip()) > len(REASON) + 10
        for line in (docstring or "").splitlines()
    )


def _body_lines(node):
    """Lines of a function after its docstring."""
    body = node.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        if len(body) == 1:
            return 0
        first = body[1]
    return node.end_lineno - first.lineno + 1


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_files_are_small_or_say_why():
    too_long = {}
    for path in _modules():
        text = path.read_text("utf-8")
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES and not _has_reason(
            ast.get_docstring(ast.parse(text))
        ):
            too_long[str(path.relative_to(ROOT))] = lines
    assert not too_long, (
        f"Over {MAX_FILE_LINES} lines without a '{REASON}' line in the "
        f"module docstring: {too_long}"
    )


def test_functions_are_small_or_say_why():
    too_long = {}
    for path in _modules():
        tree = ast.parse(path.read_text("utf-8"))
        for node in _functions(tree):
            lines = _body_lines(node)
            if lines > MAX_FUNCTION_LINES and not _has_reason(
                ast.get_docstring(node)
            ):
                where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                too_long[where] = lines
    assert not too_long, (
        f"Function bodies over {MAX_FUNCTION_LINES} lines without a "
        f"'{REASON}' line in the docstring: {too_long}"
    )


def test_the_reasons_given(capsys):
    """Prints every reason (with -rP), and checks the measure can fail."""
    reasons = []
    for path in _modules():
        text = path.read_text("utf-8")
        tree = ast.parse(text)
        docs = [(str(path.relative_to(ROOT)), ast.get_docstring(tree))]
        docs += [
            (f"{path.relative_to(ROOT)} {n.name}", ast.get_docstring(n))
            for n in _functions(tree)
        ]
        for where, doc in docs:
            for line in (doc or "").splitlines():
                if line.strip().startswith(REASON):
                    reasons.append(f"{where}: {line.strip()}")
    print("\n".join(reasons))
    # The measure finds long pieces where they are: the largest module is
    # over the limit (it carries a reason) or the limit is met everywhere.
    longest = max(len(p.read_text("utf-8").splitlines()) for p in _modules())
    assert longest > 100
    tree = ast.parse("def f():\n    '''Doc.'''\n" + "    x = 1\n" * 90)
    assert _body_lines(next(_functions(tree))) == 90
    assert not _has_reason("Summary.\n\nSize: short")
    assert _has_reason(
        "Summary.\n\nSize: one table per format, built in order."
    )
