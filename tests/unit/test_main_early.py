"""podpy's main forks a foreground run's stage 1 before it parses anything (rootless/early.py's
fork), guessing from the words of the command line: which words count as one."""

import os

import pytest

from podpy.__main__ import _foreground_run


@pytest.fixture
def rootless_user(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.delenv("CONTAINER_CONNECTION", raising=False)


@pytest.mark.parametrize("args", [
    ["run", "--rm", "busybox", "true"],
    ["run", "-it", "--name", "x", "busybox", "sh"],
    ["run", "--network", "none", "-e", "A=d", "busybox", "env"],
])
def test_foreground_runs_are_guessed(rootless_user, args):
    assert _foreground_run(args)


@pytest.mark.parametrize("args", [
    [],
    ["create", "busybox"],
    ["--root", "/x", "run", "busybox"],          # words before run: not guessed, forked later
    ["run", "-d", "busybox", "sleep", "9"],
    ["run", "-dit", "busybox", "sh"],
    ["run", "-itd", "busybox", "sh"],
    ["run", "--detach", "busybox"],
    ["run", "--detach=true", "busybox"],
    ["run", "--help"],
    ["run", "--preserve-fds", "2", "busybox", "true"],
    ["run", "--preserve-fds=2", "busybox", "true"],
    ["run", "busybox", "ls", "-d", "/"],          # the container's -d: a wrong guess, only slower
])
def test_other_command_lines_are_not(rootless_user, args):
    assert not _foreground_run(args)


def test_not_as_root_nor_remote(rootless_user, monkeypatch):
    monkeypatch.setenv("CONTAINER_HOST", "unix:///run/x.sock")
    assert not _foreground_run(["run", "busybox"])
    monkeypatch.delenv("CONTAINER_HOST")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert not _foreground_run(["run", "busybox"])
