import pytest

from kd_toolkit.cli.errors import exits_cleanly_on_user_error


def test_a_user_error_is_one_line_and_status_2(capsys):
    @exits_cleanly_on_user_error
    def main(argv):
        raise ValueError("`epochs` must be an int >= 1. Received: epochs=0")

    assert main([]) == 2
    assert capsys.readouterr().err == (
        "error: `epochs` must be an int >= 1. Received: epochs=0\n"
    )


def test_a_bug_keeps_its_traceback():
    @exits_cleanly_on_user_error
    def main(argv):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        main([])


def test_success_passes_the_status_through():
    assert exits_cleanly_on_user_error(lambda argv: 0)([]) == 0
