"""Stages: global ARGs, FROM expansion, and which stages a target needs."""

import pytest

from podpy.imagebuild.parser import ParseError, parse
from podpy.imagebuild.stages import base_of, global_values, needed, split
from podpy.errors import InvalidArgument

TEXT = """\
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS Build
RUN make
FROM scratch AS docs
COPY README /
FROM busybox AS unused
FROM build AS final
COPY --from=docs /README /
RUN --mount=type=bind,from=0,target=/src true
"""


def test_split_and_global_values():
    plan = split(parse(TEXT))
    assert [s.name for s in plan.stages] == ["build", "docs", "unused", "final"]
    assert [len(s.instructions) for s in plan.stages] == [1, 1, 0, 2]
    g = global_values(plan, {"TAG": "1.2"}, {"TARGETARCH": "amd64"})
    assert g == {"TARGETARCH": "amd64", "BASE": "busybox", "TAG": "1.2"}
    assert base_of(plan, plan.stages[0], g) == "busybox:1.2"
    g = global_values(plan, {}, {})
    assert base_of(plan, plan.stages[0], g) == "busybox:latest"
    assert plan.find("BUILD") is plan.stages[0] and plan.find("1") is plan.stages[1]
    assert plan.find("final", before=2) is None


def test_needed_stages_skip_what_the_target_does_not_use():
    plan = split(parse(TEXT))
    g = global_values(plan, {}, {})
    target, stages = needed(plan, None, g)
    assert target.name == "final" and [s.name for s in stages] == ["build", "docs", "final"]
    target, stages = needed(plan, "docs", g)
    assert [s.name for s in stages] == ["docs"]
    with pytest.raises(InvalidArgument, match="target stage 'nope' not found"):
        needed(plan, "nope", g)


def test_errors():
    with pytest.raises(ParseError, match="first instruction must be FROM"):
        split(parse("RUN x\nFROM y\n"))
    with pytest.raises(ParseError, match="no FROM"):
        split(parse("ARG A=1\n"))
    with pytest.raises(ParseError, match="duplicate stage name"):
        split(parse("FROM a AS x\nFROM b AS X\n"))
    plan = split(parse("ARG B\nFROM $B\n"))
    with pytest.raises(InvalidArgument, match="names no image"):
        base_of(plan, plan.stages[0], global_values(plan, {}, {}))
