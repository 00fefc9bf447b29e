# Checks the system-test harness itself: both builds of the CLI start, and failures are reported in full.
import pytest


def test_version(podpy):
    result = podpy("version")
    assert result.returncode == 0
    assert "0.1.0" in result.stdout


def test_help(podpy):
    result = podpy("--help")
    assert result.returncode == 0


def test_failed_command_is_reported(podpy):
    bogus = "no-such-subcommand-for-harness-test"
    result = podpy(bogus, check=False)
    assert result.returncode != 0
    with pytest.raises(pytest.fail.Exception) as failure:
        podpy(bogus)
    message = str(failure.value)
    assert bogus in message
    assert f"exit code: {result.returncode}" in message
    assert "--- stderr ---" in message
