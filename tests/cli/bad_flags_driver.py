"""Runs one command line's `main` in this process on many argument lists.

Usage: python -m tests.cli.bad_flags_driver MODULE CASES.json OUT.json

`CASES.json` holds `{"base_args": [...], "cases": [[case id, [args...]],
...]}`; to those hand-written cases the driver adds a bad value for every
typed flag of the module (`type_cases`). Each case (the base arguments,
then its own) goes through the command line's own flag parser and `main`,
as `app.run` would call them; `OUT.json` gets the module's flags and, for
each case, the exit status and what it printed on stderr. TensorFlow is
imported once for all the cases.
"""

import contextlib
import importlib
import io
import json
import sys

from absl import flags

from kd_toolkit.cli import errors


def run_case(module, args):
    stderr = io.StringIO()
    flags.FLAGS.unparse_flags()
    with contextlib.redirect_stderr(stderr):
        try:
            argv = errors.parse_flags_or_exit([module.__name__, *args])
            status = module.main(argv)
        except SystemExit as exit_:
            status = exit_.code
    return {"status": status, "stderr": stderr.getvalue()}


def type_cases(module):
    """A bad value of the right syntax class for every typed flag of
    `module`: a word for a number, values just past its bounds, an unknown
    choice for an enum, a non-boolean for a bool."""
    cases = []
    for flag in flags.FLAGS.get_flags_for_module(module.__name__):
        parser, name = flag.parser, flag.name
        if isinstance(parser, (flags.IntegerParser, flags.FloatParser)):
            cases.append([f"{name}=word", [f"--{name}=word"]])
            if parser.lower_bound is not None:
                value = parser.lower_bound - 1
                cases.append([f"{name}={value}", [f"--{name}={value}"]])
            if parser.upper_bound is not None:
                value = parser.upper_bound + 1
                cases.append([f"{name}={value}", [f"--{name}={value}"]])
        elif isinstance(parser, flags.EnumParser):
            cases.append([f"{name}=nope", [f"--{name}=nope"]])
        elif isinstance(parser, flags.BooleanParser):
            cases.append([f"{name}=maybe", [f"--{name}=maybe"]])
    return cases


def flag_inventory(module):
    """`{flag name: parser class name}` of the flags `module` defines."""
    return {
        flag.name: type(flag.parser).__name__
        for flag in flags.FLAGS.get_flags_for_module(module.__name__)
    }


def main():
    name, cases_path, out_path = sys.argv[1:4]
    module = importlib.import_module(name)
    with open(cases_path) as f:
        spec = json.load(f)
    base = spec["base_args"]
    cases = [[c, [*base, *args]] for c, args in type_cases(module)]
    cases += [[c, [*base, *args]] for c, args in spec["cases"]]
    results = {case: run_case(module, args) for case, args in cases}
    with open(out_path, "w") as f:
        json.dump({"flags": flag_inventory(module), "results": results}, f)


if __name__ == "__main__":
    main()
