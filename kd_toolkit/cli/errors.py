"""One way for every command line to end on a user error.

A user error, whether absl finds it while parsing the flags (a value of the
wrong type, out of its bounds, a required flag missing) or kd_toolkit finds
it later (an unknown name, a missing file), ends the command with one line,
`error: <message>` on stderr, and exit status 2, without a traceback.
"""

import functools
import sys

from absl import app
from absl import flags

from kd_toolkit.console import native_logs

# Bad flags, files that are missing or unreadable, settings out of range:
# every check in kd_toolkit raises one of these with a message that names
# the argument, what was expected and what was received.
USER_ERRORS = (ValueError, TypeError, OSError)
USAGE_STATUS = 2


def _report(error):
    # One line, whatever the message holds.
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)


def exits_cleanly_on_user_error(main):
    """Wraps an absl `main`: a user error ends the command with one line,
    `error: <message>` on stderr and exit status 2, without a traceback.
    Other exceptions (bugs) keep their traceback."""

    @functools.wraps(main)
    def wrapped(argv):
        try:
            return main(argv)
        except (*USER_ERRORS, app.UsageError) as error:
            _report(error)
            return USAGE_STATUS

    return wrapped


def parse_flags_or_exit(argv):
    """absl's flag parsing, with a bad flag reported like any user error:
    one `error:` line and exit status 2 (absl's own parser prints a
    `FATAL Flags parsing error` block and exits 1)."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        _report(error)
        sys.exit(USAGE_STATUS)


def run_main(main):
    """`app.run(main)` with `parse_flags_or_exit` as the flag parser, and
    TensorFlow's native log lines kept off stderr (`--verbosity=1` shows
    them: `kd_toolkit.console.native_logs`)."""
    with native_logs.filtered():
        app.run(main, flags_parser=parse_flags_or_exit)
