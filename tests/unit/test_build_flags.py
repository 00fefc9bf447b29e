"""build's flags that change the final image, and their checks (podpy/imagebuild/flags.py)."""

import pytest

from podpy.errors import InvalidArgument
from podpy.imagebuild import flags


def test_env_moves_a_variable_set_again_to_the_end_then_unsetenv_drops():
    config = {"config": {"Env": ["PATH=/bin", "A=1"]}}
    f = flags.Final(env=flags.parse_env(["B=2", "A=3"]), unsetenv=["PATH"])
    assert flags.apply(config, f)["config"]["Env"] == ["B=2", "A=3"]
    assert config["config"]["Env"] == ["PATH=/bin", "A=1"]   # a copy is changed, not the stage's


def test_env_key_alone_takes_this_environment(monkeypatch):
    monkeypatch.setenv("FROM_HERE", "yes")
    monkeypatch.delenv("NOT_HERE", raising=False)
    assert flags.parse_env(["FROM_HERE", "NOT_HERE"]) == [("FROM_HERE", "yes")]
    with pytest.raises(InvalidArgument):
        flags.parse_env(["=x"])


def test_platform_then_arch_os_variant_over_it():
    assert flags.platform(["linux/arm64/v8"], None, None, None) == ("linux", "arm64", "v8")
    assert flags.platform(["linux/arm64"], None, "amd64", None) == ("linux", "amd64", None)
    assert flags.platform([], None, None, None) == (None, None, None)
    for bad in (["linux"], ["a/b/c/d"], ["linux/amd64,linux/arm64"]):
        with pytest.raises(InvalidArgument):
            flags.platform(bad, None, None, None)


def test_platforms_to_build_checks_each_and_keeps_other_architectures():
    assert flags.platforms_to_build([]) == []
    assert flags.platforms_to_build(["linux/arm64"]) == ["linux/arm64"]     # one: for the image and FROM
    assert flags.platforms_to_build(["linux/amd64,linux/386", "linux/amd64"]) == ["linux/amd64", "linux/386"]
    assert flags.platforms_to_build(["linux/amd64", "linux/arm64/v8"]) == ["linux/amd64", "linux/arm64/v8"]
    with pytest.raises(InvalidArgument, match="expected OS/ARCH"):
        flags.platforms_to_build(["linux/amd64,linux"])


def test_apply_records_platform_os_features_and_omits_history():
    config = {"architecture": "amd64", "os": "linux", "config": {}, "history": [{"created_by": "x"}]}
    f = flags.Final(arch="arm64", variant="v8", os_version="1.0", os_features=["a", "b", "a-"], omit_history=True)
    out = flags.apply(config, f)
    assert (out["architecture"], out["variant"], out["os.version"]) == ("arm64", "v8", "1.0")
    assert out["os.features"] == ["b"]
    assert "history" not in out


def test_outputs():
    assert flags.parse_outputs(["type=local,dest=out"]) == [flags.Output("local", "out")]
    assert flags.parse_outputs(["type=tar,dest=x.tar"]) == [flags.Output("tar", "x.tar")]
    assert flags.parse_outputs(["dir"]) == [flags.Output("local", "dir")]
    assert flags.parse_outputs(["-"]) == [flags.Output("tar", "-")]
    for bad in (["type=registry,dest=x"], ["type=local"], ["a", "b"]):
        with pytest.raises(InvalidArgument):
            flags.parse_outputs(bad)


def test_build_contexts_and_isolation():
    assert flags.parse_build_contexts(["Name=/some/dir"]) == {"name": "/some/dir"}
    with pytest.raises(InvalidArgument):
        flags.parse_build_contexts(["novalue"])
    flags.check_isolation("chroot")
    with pytest.raises(InvalidArgument):
        flags.check_isolation("vm")
