"""The shared one-line error contract of the package's CLIs (featuredrop.cli)."""

from __future__ import annotations

import pytest

from featuredrop.cli import OneLineParser, fail


def test_parser_error_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = OneLineParser(prog="prog")
    parser.add_argument("--n", type=int)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["--n", "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("prog: error:") and "'x'" in err
    assert "usage" not in err


def test_fail_collapses_whitespace(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        fail("bad\n  input   here", 3)
    assert exc.value.code == 3
    assert capsys.readouterr().err == "bad input here\n"
