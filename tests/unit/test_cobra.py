"""podman's words for command-line errors (podpy/cli/cobra.py), asked of the click tree: argument
counts, --all/--latest/names, groups without or with an unknown subcommand, unknown flags."""

from __future__ import annotations

import sys
import warnings

import pytest

with warnings.catch_warnings():   # typer 0.19 imports a name click 8.5 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    import click

    from podpy.cli import app as app_mod

from podpy.cli import cobra, refusals
from podpy.cli.globalflags import Globals
from podpy.cli.tree import click_tree, invoke


@pytest.fixture(scope="module")
def tree() -> click.Group:
    app_mod.build(None)
    return click_tree(app_mod.app)


@pytest.fixture(autouse=True)
def as_podpy(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["podpy"])


def _run(tree, capsys, *words: str) -> tuple[int, str, str]:
    code = invoke(tree, list(words), Globals())
    out = capsys.readouterr()
    return code, out.out, out.err


def _commands(cmd, words=()):
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            if not getattr(sub, "refused", False):
                yield from _commands(sub, (*words, name))
    else:
        yield list(words), cmd


def _has(cmd, flag: str) -> bool:
    return any(flag in getattr(p, "opts", ()) for p in cmd.params)


@pytest.mark.parametrize("low,high,received,message", [
    (0, 0, 1, "`podpy ps` takes no arguments"),
    (1, 1, 0, "accepts 1 arg(s), received 0"),
    (1, 1, 2, "accepts 1 arg(s), received 2"),
    (0, 1, 2, "accepts at most 1 arg(s), received 2"),
    (1, 2, 3, "accepts between 1 and 2 arg(s), received 3"),
    (2, cobra.INFINITE, 0, "requires at least 2 arg(s), only received 0"),
])
def test_argument_counts_in_cobras_words(low, high, received, message):
    assert cobra.arity_message("podpy ps", "ps", low, high, received) == message


@pytest.mark.parametrize("words,message", [
    (["ps", "x"], "`podpy ps` takes no arguments"),
    (["container", "ps", "x"], "`podpy container ps` takes no arguments"),
    (["export"], "accepts 1 arg(s), received 0"),
    (["export", "a", "b"], "accepts 1 arg(s), received 2"),
    (["export", "-o", "f", "a", "b"], "accepts 1 arg(s), received 2"),   # an option's value is no argument
    (["images", "a", "b"], "accepts at most 1 arg(s), received 2"),
    (["commit", "a", "b", "c"], "accepts between 1 and 2 arg(s), received 3"),
    (["tag"], "requires at least 2 arg(s), only received 0"),
    (["save"], "need at least 1 argument"),
    (["attach", "a", "b"], "`podpy attach` accepts at most one argument"),
])
def test_a_wrong_argument_count_is_refused_in_podmans_words(tree, capsys, words, message):
    assert _run(tree, capsys, *words) == (125, "", f"Error: {message}\n")


def test_messages_name_the_program_as_invoked(tree, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/podman"])
    assert _run(tree, capsys, "ps", "x")[2] == "Error: `podman ps` takes no arguments\n"


def test_all_with_latest_is_refused_by_every_command_that_has_both(tree, capsys):
    seen = []
    for words, cmd in _commands(tree):
        if _has(cmd, "--all") and _has(cmd, "--latest"):
            seen.append(" ".join(words))
            code, out, err = _run(tree, capsys, *words, "--all", "--latest")
            noun = cobra.TOGETHER.get(refusals.SAME.get(" ".join(words), " ".join(words)))
            expected = f"--all, --latest and {noun}" if noun else "--all and --latest"
            assert (code, err) == (125, f"Error: {expected} cannot be used together\n"), words
    assert {"init", "container init", "umount", "unmount", "network reload", "start", "pod rm", "pod start",
            "pod stop", "pod kill", "pod pause", "pod unpause", "pod restart", "pod stats"} <= set(seen)


def test_latest_with_names_is_refused(tree, capsys):
    for words, cmd in _commands(tree):
        path = refusals.SAME.get(" ".join(words), " ".join(words))
        if not _has(cmd, "--latest") or path in cobra.LATEST_ARGUMENTS or path == "exec":
            continue
        if not any(isinstance(p, click.Argument) for p in cmd.params):
            continue
        code, out, err = _run(tree, capsys, *words, "-l", "nonexistent-container")
        noun = cobra.LATEST_NOUN.get(path, "containers")
        expected = f"--all, --latest and {cobra.TOGETHER[path]}" if path in cobra.TOGETHER else f"--latest and {noun}"
        assert (code, err) == (125, f"Error: {expected} cannot be used together\n"), words


@pytest.mark.parametrize("words,message", [
    (["pod", "rm", "--all", "x"], "no arguments are needed with --all"),
    (["pod", "logs", "-l", "x"], "--latest and pods cannot be used together"),
    (["pod", "inspect", "-l", "x"], "--latest and arguments cannot be used together"),
    (["pod", "rm", "--pod-id-file", "f", "--all"], "--all, --latest, and --pod-id-file cannot be used together"),
])
def test_podmans_own_words_by_command(tree, capsys, words, message):
    assert _run(tree, capsys, *words) == (125, "", f"Error: {message}\n")


def test_a_group_without_a_subcommand_prints_its_help_then_the_error(tree, capsys):
    code, out, err = _run(tree, capsys, "pod")
    assert code == 125 and "rm" in out and err == "Error: missing command 'podpy pod COMMAND'\n"
    code, out, err = _run(tree, capsys)
    assert code == 125 and "container" in out and err == "Error: missing command 'podpy COMMAND'\n"


def test_an_unknown_subcommand_names_the_help_to_try(tree, capsys):
    assert _run(tree, capsys, "pod", "NoSuchCommand") == (
        125, "", "Error: unrecognized command `podpy pod NoSuchCommand`\nTry 'podpy pod --help' for more information\n")


def test_an_unknown_command_gets_cobras_suggestions(tree, capsys):
    code, out, err = _run(tree, capsys, "contaner")
    assert code == 125 and err.startswith("Error: unrecognized command `podpy contaner`\n\nDid you mean this?\n")
    assert "\tcontainer\n" in err and err.endswith("\nTry 'podpy --help' for more information\n")
    assert _run(tree, capsys, "zzzzzz")[2] == \
        "Error: unrecognized command `podpy zzzzzz`\nTry 'podpy --help' for more information\n"


@pytest.mark.parametrize("words,message", [
    (["ps", "--bogus"], "unknown flag: --bogus\nSee 'podpy ps --help'"),
    (["pod", "stop", "-Z"], "unknown shorthand flag: 'Z' in -Z\nSee 'podpy pod stop --help'"),
])
def test_an_unknown_flag_names_the_help_to_see(tree, capsys, words, message):
    assert _run(tree, capsys, *words) == (125, "", f"Error: {message}\n")


def _pages(tree):
    """(words, cmd) of every command and group podpy has (not the refused ones)."""
    def walk(cmd, words):
        yield words, cmd
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                if not getattr(sub, "refused", False):
                    yield from walk(sub, [*words, name])
    return list(walk(tree, []))


def test_help_pages_are_laid_out_as_cobras(tree, capsys):
    """podman's test/system/015-help.bats rules for each page's usage line."""
    import re

    for words, cmd in _pages(tree):
        if words == ["quadlet"]:   # podpy's own, with the Quadlet generator's Go-style flags and help
            continue
        code, out, err = _run(tree, capsys, *words, "--help")
        assert code == 0 and err == "", words
        lines = out.splitlines()
        assert lines[0] and lines[1] == "", (words, lines[:2])   # the short description first
        usage = lines[lines.index("Usage:") + 1]
        path = " ".join(["podpy", *words])
        assert usage == f"  {path}" or usage.startswith(f"  {path} "), (words, usage)
        rest = usage[len(path) + 3:]
        if isinstance(cmd, click.Group):
            assert rest.endswith("[command]") and "Available Commands:" in out, words
            continue
        assert "[OPTION" not in rest and not re.search(r"[A-Z].*\[option", rest), (words, usage)
        has_options = rest.startswith("[options]")
        assert has_options == ("\nOptions:\n" in out), (words, usage)
        args = rest[len("[options]"):].strip() if has_options else rest
        assert not re.search(r"[a-z]", args), (words, usage)   # argument names in upper case
        assert not re.search(r"\[.*\] [A-Z]", args), (words, usage)   # optional ones after required ones


def test_container_run_help_names_container_run(capsys):
    from podpy.cli.main import dispatch

    assert dispatch(["container", "run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run a command in a new container.\n\nUsage:\n  podpy container run [options] IMAGE")
    assert "\nOptions:\n      --name string " in out


@pytest.mark.parametrize("variable", ["CONTAINER_HOST", "CONTAINER_CONNECTION"])
def test_remote_mode_hides_the_remote_flag(tree, capsys, monkeypatch, variable):
    """podman in remote mode (its service named by the environment) leaves --remote out of its help."""
    code, out, _ = _run(tree, capsys, "--help")
    assert code == 0 and " --remote " in out
    monkeypatch.setenv(variable, "foobar")
    code, out, _ = _run(tree, capsys, "--help")
    assert code == 0 and " --remote " not in out and " --url " in out


@pytest.mark.parametrize("verb", ["rm", "stop", "restart", "pause", "unpause", "container rm"])
def test_a_filter_with_names_is_refused_first(tree, capsys, verb):
    """podman refuses --filter with names before --all or --latest with them; `start`'s
    --filter picks among the names instead (its own rule)."""
    code, out, err = _run(tree, capsys, *verb.split(), "--filter", "name=x", "-a", "vfm")
    assert (code, out, err) == (125, "", "Error: --filter takes no arguments\n")


def test_starts_filter_picks_among_names(tree, capsys):
    code, _, err = _run(tree, capsys, "start", "--filter", "name=x", "-l", "vfm")
    assert "--filter takes no arguments" not in err
