"""podman 4.3.1's command line against podpy's: every command, alias and flag podman has is
accepted by podpy's parser or refused, with its reason, from podpy/cli/refusals.py.

podman's side is podman_cli.json (made once from `podman ... --help` by podman_cli_dump.py;
podman is not needed here). podpy's side is asked of podpy's own parsers: the click tree
typer's commands make (with the refusals tree.py adds), runargs' tables for run, create and
exec, and the global flags' table.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():   # typer 0.19 imports a name click 8.5 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    import click

    from podpy.cli import app as app_mod

from podpy.cli import refusals, runargs
from podpy.cli.globalflags import TABLE as GLOBAL_TABLE
from podpy.cli.globalflags import Globals
from podpy.cli.tree import click_tree, invoke
from podpy.errors import InvalidArgument

HERE = Path(__file__).resolve().parent
PODMAN = json.loads((HERE / "podman_cli.json").read_text())
COMMANDS = PODMAN["commands"]
RUNARGS = {"run": "run", "create": "create", "exec": "exec", "container run": "run",
           "container create": "create", "container exec": "exec"}


@pytest.fixture(scope="module")
def tree() -> click.Group:
    app_mod.build(None)
    return click_tree(app_mod.app)


def _paths() -> list[str]:
    """Every podman command path, with its aliases and the subcommands its groups list."""
    paths = set()
    for path, entry in COMMANDS.items():
        if path:
            paths.add(path)
        parent = path.rpartition(" ")[0] if path else None
        for alias in entry["aliases"]:
            paths.add(f"{parent} {alias}".strip())
        for sub in entry["commands"]:
            paths.add(f"{path} {sub}".strip())
    return sorted(paths)


def _find(tree: click.Group, path: str):
    cmd = tree
    for word in path.split():
        if not isinstance(cmd, click.Group) or word not in cmd.commands:
            return None
        cmd = cmd.commands[word]
    return cmd


def _declared(cmd: click.Command) -> dict[str, object]:
    """The flags a click command declares itself (not the refusals tree.py added), flag -> its
    parameter; -h and --help (every typer command's, from the root's context settings)."""
    declared: dict[str, object] = {o: p for p in cmd.params if not getattr(p, "hidden", False) or p.callback is None
                                   for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
    if cmd.add_help_option:
        names = (cmd.context_settings or {}).get("help_option_names", ["-h", "--help"])
        declared.update({n: "help" for n in names})
    return declared


def _flags(path: str) -> list[tuple[str, str]]:
    entry = COMMANDS.get(path) or COMMANDS.get(_alias_of(path) or "-", {"flags": {}})
    return sorted(entry["flags"].items())


def _alias_of(path: str):
    parent, _, name = path.rpartition(" ")
    for p, entry in COMMANDS.items():
        if p.rpartition(" ")[0] == parent and name in entry["aliases"]:
            return p
    return None


@pytest.mark.parametrize("path", _paths())
def test_every_podman_command_is_podpys_or_refused(tree, path, capsys):
    cmd = _find(tree, path)
    found = refusals.refused_command(path)
    if found is None:
        assert cmd is not None and not getattr(cmd, "refused", False), f"podpy has no `{path}` and does not refuse it"
        return
    where, reason = found
    assert cmd is None or getattr(cmd, "refused", False), f"`{path}` is refused, but podpy has a command for it"
    assert invoke(tree, [*path.split(), "x"], Globals()) == 125
    assert capsys.readouterr().err == f"Error: podpy {where}: {reason}\n"


def test_podpys_own_commands_are_declared(tree):
    """A command podman 4.3.1 lacks is podpy's own on purpose: listed, with what it is for, in
    refusals.PODPY_ONLY (and one listed there really is podpy's and not podman's)."""
    def walk(cmd, words):
        if words:
            yield " ".join(words)
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*words, name])

    # second names of podman's commands that podpy accepts and podman 4.3.1's --help does not list
    # (`play kube` is podman's older, hidden spelling of `kube play`)
    other_names = {"network list", "secret remove", "system events", "play", "play kube"}
    podman = set(_paths())
    extra = {p for p in walk(tree, []) if p not in podman and not getattr(_find(tree, p), "refused", False)}
    assert extra - other_names == set(refusals.PODPY_ONLY), \
        "podpy's commands that podman 4.3.1 lacks are not those of refusals.PODPY_ONLY"
    for path in refusals.PODPY_ONLY:
        assert path not in podman and _find(tree, path) is not None, path


def test_podpys_own_commands_say_so_in_their_help(tree, capsys):
    for path in refusals.PODPY_ONLY:
        assert invoke(tree, [*path.split(), "--help"], Globals()) == 0
        assert "(podpy only" in capsys.readouterr().out, path


@pytest.mark.parametrize("path", [p for p in _paths() if refusals.command_refusal(p) is None])
def test_every_podman_flag_is_accepted_or_refused(tree, path):
    if path in RUNARGS:
        accepted = {f for o in runargs.TABLES[RUNARGS[path]] for f in o.flags} | {"--help"}
    else:
        accepted = set(_declared(_find(tree, path)))
    refused = refusals.flag_refusals(RUNARGS.get(path, path))
    for long, short in _flags(path):
        for flag in filter(None, (long, short)):
            if flag in refused:
                assert flag not in accepted, (f"podpy accepts `{path} {flag}` now: take it out of "
                                              "podpy/cli/refusals.py")
            else:
                assert flag in accepted, f"podpy neither accepts nor refuses `{path} {flag}`"


def _own_long_flags(tree, path: str) -> set[str]:
    """podpy's long flags of the command at path, hidden ones included; not the refusals tree.py
    adds, nor the second spellings of booleans (--no-tls-verify: podman's --tls-verify=false)."""
    if path in RUNARGS:
        return {f for o in runargs.TABLES[RUNARGS[path]] for f in o.flags if f.startswith("--")}
    cmd = _find(tree, path)
    return {o for p in cmd.params if not getattr(p, "hidden", False) or p.callback is None
            for o in getattr(p, "opts", ()) if o.startswith("--")}


@pytest.mark.parametrize("path", [p for p in _paths() if refusals.command_refusal(p) is None])
def test_podpys_flags_beyond_podmans_are_declared(tree, path):
    """A flag podman 4.3.1's --help does not list is podpy's on purpose: in refusals.PODPY_FLAGS,
    with its reason (and one listed there is really podpy's and not in podman's --help)."""
    podman = {f for pair in _flags(path) for f in pair if f} | {"--help"}
    declared = refusals.podpy_flags(path)
    extra = _own_long_flags(tree, path) - podman
    assert extra == set(declared), (f"`{path}`: podpy's flags beyond podman 4.3.1's are not those of "
                                    "refusals.PODPY_FLAGS")
    assert not set(declared) & podman


def test_podpys_global_flags_beyond_podmans_are_declared():
    podman = {f for pair in _flags("") for f in pair if f}
    extra = {f for flags, *_ in GLOBAL_TABLE for f in flags if f.startswith("--")} - podman
    assert extra == set(refusals.PODPY_FLAGS[""])


def test_podpy_flags_table_names_podman_commands():
    for path in refusals.PODPY_FLAGS:
        assert path in COMMANDS or _alias_of(path), f"refusals.PODPY_FLAGS: podman 4.3.1 has no `{path}`"


@pytest.mark.parametrize("path", [p for p in _paths() if refusals.command_refusal(p) is None and p not in RUNARGS])
def test_short_flags_mean_what_podmans_mean(tree, path):
    declared = _declared(_find(tree, path))
    for long, short in _flags(path):
        if short and short in declared and long in declared:
            assert declared[short] is declared[long], f"`{path} {short}` is not {long} in podpy"


def test_help_and_dash_h_work_on_every_command_and_group(tree, capsys):
    def walk(cmd, words):
        yield words
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*words, name])

    for words in walk(tree, []):
        # run's, create's, pod create's and pod clone's -h is --hostname, as in podman
        for flag in ("--help",) if words[-1:] in (["run"], ["create"]) or words in (["pod", "create"],
                                                                                    ["pod", "clone"]) \
                else ("--help", "-h"):
            code = invoke(tree, [*words, flag], Globals())
            out = capsys.readouterr()
            assert (code, out.err) == (0, ""), (words, flag, out.err)
            # cobra's layout; quadlet's is the Quadlet generator's own (Go's flag package)
            assert ("Usage: podpy quadlet" if words == ["quadlet"] else "Usage:\n  podpy") in out.out, (words, flag)


def _refused_flag_cases():
    for path, table in sorted(refusals.FLAGS.items()):
        if path and path not in RUNARGS:
            for names, reason in table.items():
                for flag in names.split("/"):
                    yield path, flag, names.split("/")[-1], reason


def test_every_refused_flag_prints_its_reason(tree, capsys):
    # (a loop rather than parameters: the table may be empty, as it is once every flag works)
    for path, flag, long, reason in _refused_flag_cases():
        paths = [path] + [p for p, same in refusals.SAME.items() if same == path]
        for p in paths:
            code = invoke(tree, [*p.split(), flag, "some-value"], Globals())
            assert (code, capsys.readouterr().err) == (125, f"Error: podpy {p} {long}: {reason}\n")


@pytest.mark.parametrize("command", ["run", "create", "exec"])
def test_a_refused_run_flag_prints_its_reason(command):
    for names, reason in refusals.FLAGS.get(command, {}).items():
        for flag in names.split("/"):
            with pytest.raises(InvalidArgument) as err:
                runargs.parse(command, [flag, "x", "image"])
            assert str(err.value) == f"podpy {command} {names.split('/')[-1]}: {reason}"


def test_init_ctr_is_a_flag_of_create_only():
    assert runargs.parse("create", ["--init-ctr", "once", "--pod", "p", "image"])["init_ctr"] == "once"
    with pytest.raises(InvalidArgument, match="--init-ctr"):
        runargs.parse("run", ["--init-ctr", "once", "--pod", "p", "image"])


@pytest.mark.parametrize("path,reason", sorted(refusals.COMMANDS.items()))
def test_a_refused_command_prints_its_reason(tree, capsys, path, reason):
    assert invoke(tree, [*path.split(), "--all", "x"], Globals()) == 125
    assert capsys.readouterr().err == f"Error: podpy {path}: {reason}\n"
    assert invoke(tree, [*path.split(), "--help"], Globals()) == 0
    assert f"podpy {path}: {reason}" in capsys.readouterr().out


def test_every_global_flag_is_accepted_or_refused():
    table = {f: attr for flags, attr, *_ in GLOBAL_TABLE for f in flags}
    refused = refusals.flag_refusals("")
    for long, short in _flags(""):
        for flag in filter(None, (long, short)):
            assert flag in table, f"podpy's global flags lack {flag}"
            assert (table[flag] is None) == (flag in refused), flag


def test_the_refusal_table_names_only_what_podman_has():
    for path in refusals.COMMANDS:
        assert path in _paths(), f"refusals.COMMANDS: podman 4.3.1 has no `{path}`"
    for path, table in refusals.FLAGS.items():
        assert path in COMMANDS or _alias_of(path), f"refusals.FLAGS: podman 4.3.1 has no `{path}`"
        podman = {f for pair in _flags(path) for f in pair if f}
        for names in table:
            for flag in names.split("/"):
                assert flag in podman, f"refusals.FLAGS[{path!r}]: podman has no {flag}"
            parts = names.split("/")
            long, short = parts[-1], (parts[0] if len(parts) == 2 else "")
            assert dict(_flags(path)).get(long) == short, f"refusals.FLAGS[{path!r}]: {names} is not podman's pair"


def test_second_names_have_the_flags_of_the_first_in_podman():
    for second, first in refusals.SAME.items():
        assert second in COMMANDS or _alias_of(second), second
        assert _flags(second) == _flags(first), (second, first)


def test_the_readme_lists_every_refusal():
    readme = (HERE.parents[1] / "README.md").read_text()
    section = re.search(r"^### What podpy refuses of podman's command line\n(.*?)(?=^#)", readme, re.M | re.S)
    assert section, "README.md has no section `### What podpy refuses of podman's command line`"
    lines = [line for line in section.group(1).splitlines() if line.startswith("- `podpy")]
    assert lines == [line for line in refusals.readme_lines() if line], \
        "README.md's list of refusals is not refusals.readme_lines(): paste it again"
