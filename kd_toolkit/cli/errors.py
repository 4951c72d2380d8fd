"""One way for every command line to end on a user error."""

import functools
import sys

# Bad flags, files that are missing or unreadable, settings out of range:
# every check in kd_toolkit raises one of these with a message that names
# the argument, what was expected and what was received.
USER_ERRORS = (ValueError, TypeError, OSError)


def exits_cleanly_on_user_error(main):
    """Wraps an absl `main`: a user error ends the command with one line,
    `error: <message>` on stderr and exit status 2, without a traceback.
    Other exceptions (bugs) keep their traceback."""

    @functools.wraps(main)
    def wrapped(argv):
        try:
            return main(argv)
        except USER_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return wrapped
