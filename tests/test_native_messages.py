"""What native code prints on the process's file descriptors: caught, or kept off the terminal."""

import os

import pytest

from pointrend.utils.native_messages import native_stderr_lines, quiet_native_output


def test_native_stderr_lines_are_collected_not_shown(capfd):
    with native_stderr_lines() as lines:
        os.write(2, b"Premature end of JPEG file\n")
    assert lines == ["Premature end of JPEG file"]
    assert capfd.readouterr().err == ""


def test_quiet_native_output_hides_both_descriptors(capfd):
    with quiet_native_output():
        os.write(1, b"[Converter] parsing...\n")
        os.write(2, b"W1202 a native warning\n")
        print("and a Python line")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    print("printing works again")
    assert capfd.readouterr().out == "printing works again\n"


def test_quiet_native_output_shows_what_was_printed_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError, match="conversion failed"):
        with quiet_native_output():
            os.write(2, b"unsupported op: foo\n")
            raise RuntimeError("conversion failed")
    assert "unsupported op: foo" in capfd.readouterr().err
