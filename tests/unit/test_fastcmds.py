"""`pod create`, `kube play` and `kube down` parsed without typer: the tables are typer's
signatures' twins, both parsers read the same command lines alike, and what the fast path
cannot be sure of goes to typer."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():   # typer 0.19 imports a name click 8.5 deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    import click
    import typer

from podpy.cli import fastcmds
from podpy.cli.fastcmds import FLAG, MULTI, VALUE

ROOT = Path(__file__).resolve().parents[2]


def _click_command(path: str) -> click.Command:
    from podpy.cli import kube, pods

    group, name = path.split()
    table = {"pod": pods.GROUP, "kube": kube.KUBE, "play": kube.PLAY}[group]
    fn, settings = table[name]
    app = typer.Typer()
    app.command(name, **settings)(fn)
    app.command("unused")(lambda: None)   # two commands: typer makes a group, as app.py does
    cli = typer.main.get_command(app)
    assert isinstance(cli, click.Group)
    return cli.commands[name]


def _click_params(path: str, words: list[str]) -> dict:
    from podpy.cli.app import _bool_flag

    cmd = _click_command(path)
    ctx = cmd.make_context(path, [_bool_flag(w) for w in words])
    return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in ctx.params.items()}


@pytest.mark.parametrize("path", sorted(fastcmds.COMMANDS))
def test_the_table_is_the_typer_signature(path):
    """Every option of the typer command is in the table with the same flags, kind and default,
    and the table has nothing else; the positional parameters are typer's arguments."""
    table, positional = fastcmds.COMMANDS[path]
    cmd = _click_command(path)
    options = {p.name: p for p in cmd.params if isinstance(p, click.Option) and p.name != "help"}
    arguments = [p.name for p in cmd.params if isinstance(p, click.Argument)]
    assert tuple(arguments) == positional
    assert {name for _f, name, _k, _d in table} == set(options)
    for flags, name, kind, default in table:
        opt = options[name]
        assert set(flags) == set(opt.opts) | set(opt.secondary_opts), name
        assert kind == (FLAG if opt.is_flag else MULTI if opt.multiple else VALUE), name
        want = opt.default
        if kind == MULTI:
            want = list(want or [])
            default = []
        assert default == want, name


def _sample(path: str) -> list[str]:
    """Every flag of the table once, each in a form the fast parser takes."""
    table, positional = fastcmds.COMMANDS[path]
    words: list[str] = []
    for flags, name, kind, _default in table:
        if kind == FLAG:
            off = [f for f in flags if f.startswith("--no-") and "--" + f[5:] in flags]
            words += off[:1] or [flags[-1]]
        elif kind == MULTI:
            words += [flags[0], f"a-{name}", f"{flags[-1]}=b-{name}"]
        else:
            words += [f"{flags[-1]}=v-{name}"]
    return words + [f"arg-{p}" for p in positional]


@pytest.mark.parametrize("path", sorted(fastcmds.COMMANDS))
def test_both_parsers_read_a_command_line_alike(path):
    samples = [_sample(path), [f"arg-{p}" for p in fastcmds.COMMANDS[path][1]]]
    if path == "pod create":
        samples += [["--name", "p", "--infra=false", "-h", "box", "--share-parent=TRUE", "-l", "a=b", "-l", "c=d"],
                    ["-n", "p", "--no-infra", "--infra", "--replace", "--exit-policy", "stop"]]
    else:
        samples += [["--start=false", "--tls-verify=false", "f.yaml"] if path != "kube down" else ["f.yaml", "--force"],
                    ["-", "--no-hosts"] if path != "kube down" else ["--no-force", "-"]]
    for words in samples:
        fast = fastcmds.parse(path, words)
        assert fast is not None, words
        assert fast == _click_params(path, words), words


@pytest.mark.parametrize("words", [
    ["--bogus"], ["--name"], ["-n"], ["a", "b"], ["--name", "a", "b", "c"], ["--replace=true"], ["--help"],
    ["-h"], ["--", "x"], ["--name", "-x"], ["-nfoo"], ["--infra=maybe"], ["--no-infra=false"],
    ["--dns-opt=x", "--bogus=1"],
])
def test_what_the_fast_parser_is_not_sure_of_goes_to_typer(words):
    assert fastcmds.parse("pod create", words) is None


def test_pod_create_takes_the_pods_name_as_an_optional_argument():
    assert fastcmds.parse("pod create", [])["pod_name"] is None
    assert fastcmds.parse("pod create", ["--replace", "web"])["pod_name"] == "web"


def test_pod_create_refuses_both_name_and_argument_in_podmans_words():
    from podpy.errors import InvalidArgument

    params = fastcmds.parse("pod create", ["--name", "a", "b"])
    with pytest.raises(InvalidArgument, match="^cannot specify --name and NAME at the same time$"):
        fastcmds.pod_create(lambda: None, params)


def test_kube_play_needs_its_file_from_typer_when_missing_or_doubled():
    assert fastcmds.parse("kube play", []) is None
    assert fastcmds.parse("kube play", ["a.yaml", "b.yaml"]) is None
    assert fastcmds.parse("kube play", ["-h"]) is None          # kube play's -h is --help
    assert fastcmds.parse("kube play", ["--force=true", "a.yaml"]) is None   # not rewritten for play


def test_paired_flags_are_the_ones_app_rewrites():
    from podpy.cli import app

    assert app._PAIRED_FLAGS is fastcmds.PAIRED_FLAGS


def _modules_after(args: list[str]) -> set[str]:
    """The modules loaded by a podpy command line that fails once parsed (a missing file), in a
    fresh python."""
    script = ("import sys\nfrom podpy.cli.main import main\nmain(sys.argv[1:])\n"
              "print(' '.join(sorted(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": "/nonexistent/data",
           "XDG_CONFIG_HOME": "/nonexistent/config"}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                         cwd=str(ROOT)).stdout
    return set(out.split()) if out else set()


def test_the_fast_path_leaves_typer_and_click_out(tmp_path):
    mods = _modules_after(["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
                           "kube", "play", str(tmp_path / "missing.yaml")])
    assert "podpy.cli.fastcmds" in mods
    assert not {"click", "typer"} & mods
    mods = _modules_after(["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
                           "kube", "play", "--bogus", str(tmp_path / "missing.yaml")])
    assert "typer" in mods   # the unknown flag: typer says so


def test_kube_yaml_is_read_from_an_http_url_whatever_the_status(tmp_path):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            found = self.path == "/pod.yaml"
            body = b"kind: Pod\n" if found else b"not: found: here\n"
            self.send_response(200 if found else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        assert fastcmds.read_yaml(f"{base}/pod.yaml") == "kind: Pod\n"
        assert fastcmds.read_yaml(f"{base}/gone.yaml") == "not: found: here\n"   # podman's: the body
    finally:
        server.shutdown()
        server.server_close()
    from podpy.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match=r'^Get "ftp://h/p.yaml": unsupported protocol scheme "ftp"$'):
        fastcmds.read_yaml("ftp://h/p.yaml")
    with pytest.raises(InvalidArgument, match=r'^Get "http://127.0.0.1:1/p.yaml": '):
        fastcmds.read_yaml("http://127.0.0.1:1/p.yaml")
    (tmp_path / "local.yaml").write_text("kind: Pod\n")
    assert fastcmds.read_yaml(str(tmp_path / "local.yaml")) == "kind: Pod\n"


def test_kube_play_refuses_an_annotation_longer_than_63_before_reading_the_file():
    from podpy.errors import InvalidArgument

    params = fastcmds.parse("kube play", ["--annotation", "name=" + "a" * 64, "/nonexistent.yaml"])
    assert params is not None
    with pytest.raises(InvalidArgument, match="^annotation exceeds maximum size, 63, of kubernetes annotation: a{64}$"):
        fastcmds.kube_play(lambda: None, params)
