"""The parsing side of the verbs' naming flags and filters: how --cidfile, --latest, --all,
--filter and names combine (podman's messages), wait --interval, exec -l, and the prunes'
filters."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():   # typer imports a name click deprecates
    warnings.simplefilter("ignore", DeprecationWarning)
    from podpy.cli import lifecycle

from podpy.cli import runargs
from podpy.engine.entities import PruneFilters
from podpy.errors import InvalidArgument


@pytest.mark.parametrize("names, kw, message", [
    ([], {}, "you must provide at least one name or id"),
    (["a"], {"filters": ["name=x"]}, "--filter takes no arguments"),
    (["a"], {"filters": ["name=x"], "latest": True}, "--filter takes no arguments"),
    ([], {"all_": True, "cidfiles": ["f"]}, "--all, --latest, and --cidfile cannot be used together"),
    ([], {"latest": True, "cidfiles": ["f"]}, "--all, --latest, and --cidfile cannot be used together"),
    ([], {"all_": True, "latest": True}, "--all and --latest cannot be used together"),
    (["a"], {"all_": True}, "no arguments are needed with --all"),
    (["a"], {"latest": True}, "--latest and containers cannot be used together"),
    (["a"], {"cidfiles": ["f"]}, "no arguments are needed with --latest or --cidfile"),
])
def test_ways_of_naming_containers_combine_as_podmans(names, kw, message):
    with pytest.raises(InvalidArgument) as err:
        lifecycle.targets(names, **kw)
    assert str(err.value) == message


def test_cidfiles_give_their_first_line_after_the_names(tmp_path):
    one, two, empty = tmp_path / "one", tmp_path / "two", tmp_path / "empty"
    one.write_text("abc123")
    two.write_text("def456\nignored\n")
    empty.write_text("")
    assert lifecycle.targets([], cidfiles=[str(one), str(two), str(one)]) == ["abc123", "def456", "abc123"]
    assert lifecycle.targets([], filters=["name=x"]) == []
    with pytest.raises(InvalidArgument, match="^name or ID cannot be empty$"):
        lifecycle.targets([], cidfiles=[str(empty)])
    with pytest.raises(InvalidArgument) as err:
        lifecycle.targets([], cidfiles=[str(tmp_path / "nope")])
    assert str(err.value) == f"reading CIDFile: open {tmp_path / 'nope'}: no such file or directory"


@pytest.mark.parametrize("text, seconds", [("250ms", 0.25), ("10", 0.01), ("1s", 1.0), ("1m30s", 90.0),
                                           ("-5", 0.0), ("0", 0.0)])
def test_wait_interval_reads_as_podmans(text, seconds):
    assert lifecycle._interval(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["bogus", "", "5x", "ms"])
def test_a_bad_wait_interval_is_refused_with_gos_words(text):
    with pytest.raises(InvalidArgument) as err:
        lifecycle._interval(text)
    assert str(err.value) == f'time: invalid duration "{text}"'


def test_exec_latest_takes_every_word_as_the_command():
    fields = runargs.parse("exec", ["-l", "-it", "echo", "hi"])
    assert fields is not None
    assert (fields["container"], fields["command"], fields["latest"]) == ("", ["echo", "hi"], True)
    fields = runargs.parse("exec", ["--detach-keys", "ctrl-a", "ctr", "true"])
    assert fields is not None and fields["detach_keys"] == "ctrl-a" and fields["container"] == "ctr"


def test_verb_filters_are_ps_keys():
    from types import SimpleNamespace

    from podpy.engine import psfilter

    rt = SimpleNamespace()   # these keys need nothing of the store
    psfilter.matcher(rt, psfilter.group(["name=a", "id=b", "status=exited", "label=k=v", "ancestor=busybox",
                                         "health=healthy"]))   # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match='^invalid filter "nokv"$'):
        psfilter.group(["nokv"])
    with pytest.raises(InvalidArgument, match="bogus"):
        psfilter.matcher(rt, psfilter.group(["bogus=1"]))   # type: ignore[arg-type]


def test_prune_filters_match_labels_and_creation():
    f = PruneFilters.parse(["label=a=b", "label!=c", "until=2000-01-01T00:00:00Z"])
    old = 900000000.0   # 1998
    assert f.matches({"a": "b"}, old)
    assert not f.matches({"a": "b", "c": "x"}, old)        # has c
    assert not f.matches({"a": "x"}, old)                  # a is not b
    assert not f.matches({"a": "b"}, 1700000000.0)         # made after until
    assert PruneFilters.parse(["label!=c=1"]).matches({"c": "2"}, None)
    with pytest.raises(InvalidArgument, match='^invalid filter "bogus"$'):
        PruneFilters.parse(["bogus=1"])
    with pytest.raises(InvalidArgument, match="^bogus is an invalid filter$"):
        PruneFilters.parse(["bogus=1"], "{key} is an invalid filter")


