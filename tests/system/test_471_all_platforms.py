"""build --all-platforms and --platform of another architecture: a manifest list of linux/amd64
and linux/arm64 in the local registry; a RUN-less build for both into --manifest's list, the
one-line error of a RUN step this kernel cannot run, buildah's errors for bases that are no
lists, and podman 4.3.1's list of the same build."""

from __future__ import annotations

import json
import os

import pytest

from helpers import VARIANTS
from registry import oci_layout, push, push_index, serving

RUNLESS = "COPY Containerfile /cf\nENV A=1\nLABEL l=1\n"


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    """plat/list: an OCI index of an amd64 and an arm64 image (busybox's files, the configs'
    architectures differ); plat/single: an image, no list."""
    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        for arch in ("amd64", "arm64"):
            oci_layout(work / arch, [image_tar.read_bytes()], ["sh"], arch=arch, history=True)
            push(work / arch, f"{reg.host}/plat/list:{arch}")
        push_index(reg.host, "plat/list", "latest", [("amd64", "amd64"), ("arm64", "arm64")])
        push(work / "amd64", f"{reg.host}/plat/single:latest")
        yield reg


def _ctx(tmp_path, text: str):
    ctx = tmp_path / "ctx"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Containerfile").write_text(text)
    return ctx


def _list(tool, name: str) -> list[dict]:
    return json.loads(tool("manifest", "inspect", name).stdout)["manifests"]


def _arm64_runs_here() -> str | None:
    from pathlib import Path

    for entry in Path("/proc/sys/fs/binfmt_misc").glob("*"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        if text.startswith("enabled") and "b700" in text and "F" in text.partition("flags:")[2].split("\n")[0]:
            return f"a binfmt_misc handler runs arm64 binaries here ({entry.name})"
    return None


@pytest.mark.parametrize("variant", VARIANTS)
def test_all_platforms_builds_each_platform_of_the_list_into_the_manifest(new_podpy, registry, tmp_path, variant):
    p = new_podpy(variant=variant)
    ctx = _ctx(tmp_path, f"FROM {registry.host}/plat/list\n{RUNLESS}")
    res = p("build", "--tls-verify=false", "--all-platforms", "--manifest", "multi", "-t", "last", ctx, timeout=300)
    assert "[linux/amd64] STEP 1/4:" in res.stdout and "[linux/arm64] STEP 4/4: LABEL l=1" in res.stdout
    entries = _list(p, "multi")
    assert [e["platform"] for e in entries] == [{"architecture": "amd64", "os": "linux"},
                                                {"architecture": "arm64", "os": "linux"}]
    by_digest = dict(line.split() for line in p("images", "--no-trunc", "--format", "{{.Digest}} {{.ID}}").stdout
                     .splitlines() if line.startswith("sha256:"))
    for e in entries:
        image = by_digest[e["digest"]]
        shown = p("image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{.Labels.l}} {{.Config.Env}}",
                  image).stdout
        assert shown.startswith(f"linux/{e['platform']['architecture']} 1 ") and "A=1" in shown, shown
    # the names go to the last platform's image, as podman gives them
    assert p("image", "inspect", "--format", "{{.Architecture}}", "last").stdout.strip() == "arm64"


def test_a_run_step_of_a_platform_this_kernel_cannot_run_fails_in_one_line(new_podpy, registry, tmp_path):
    reason = _arm64_runs_here()
    if reason:
        pytest.skip(f"{reason}: the RUN step would run")
    p = new_podpy()
    ctx = _ctx(tmp_path, f"FROM {registry.host}/plat/list\nRUN echo hi > /x\n")
    res = p("build", "--tls-verify=false", "--all-platforms", "--manifest", "runs", ctx, check=False, timeout=300)
    assert res.returncode == 125
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert errors == ['Error: building at STEP "RUN echo hi > /x": the platform linux/arm64 cannot run on this '
                      'linux/amd64 host (exec format error): no binfmt_misc handler for arm64 binaries is registered '
                      '(e.g. install qemu-user-static)'], res.stderr
    assert "[linux/amd64] STEP 2/2: RUN echo hi > /x" in res.stdout     # amd64's RUN ran
    assert p("manifest", "exists", "runs", check=False).returncode == 1   # no list of half the platforms
    # --platform of the other architecture alone: the same rule
    res = p("build", "--tls-verify=false", "--platform", "linux/arm64", ctx, check=False, timeout=300)
    assert res.returncode == 125 and "the platform linux/arm64 cannot run" in res.stderr
    # ... and without a RUN step it is built
    runless = _ctx(tmp_path / "b", f"FROM {registry.host}/plat/list\n{RUNLESS}")
    image = p("build", "-q", "--tls-verify=false", "--platform", "linux/arm64", runless, timeout=300).stdout.strip()
    assert p("image", "inspect", "--format", "{{.Architecture}}", image).stdout.strip() == "arm64"


def test_bases_that_are_no_lists_fail_as_buildahs(new_podpy, registry, tmp_path, podman):
    p = new_podpy()
    cases = [(f"FROM {registry.host}/plat/single\n",
              f'Error: base image name "{registry.host}/plat/single" didn\'t resolve to a manifest list'),
             (f"FROM {registry.host}/plat/list AS a\nFROM {registry.host}/plat/single\nCOPY --from=a /bin/sh /x\n",
              f'Error: base image name "{registry.host}/plat/single" didn\'t resolve to a manifest list'),
             ("FROM scratch\nCOPY Containerfile /\n", "Error: build uses no non-scratch base images")]
    for i, (text, error) in enumerate(cases):
        ctx = _ctx(tmp_path / str(i), text)
        res = p("build", "--tls-verify=false", "--all-platforms", ctx, check=False)
        assert res.returncode == 125 and res.stderr.strip().splitlines()[-1] == error, res.stderr
        assert "STEP" not in res.stdout
        theirs = podman("build", "--tls-verify=false", "--all-platforms", ctx, check=False)
        assert theirs.returncode == 125 and theirs.stderr.strip().splitlines()[-1].startswith(error)
    assert p("images", "-q").stdout == ""


def test_the_same_list_as_podmans(new_podpy, registry, tmp_path, podman):
    ctx = _ctx(tmp_path, f"FROM {registry.host}/plat/list\n{RUNLESS}")
    # podman 4.3.1 reuses one platform's cached steps for the other: --no-cache keeps them apart
    theirs = podman("build", "--no-cache", "--tls-verify=false", "--all-platforms", "--manifest", "multi", ctx,
                    check=False, timeout=300)
    if theirs.returncode != 0:
        pytest.skip(f"podman cannot build here: {theirs.stderr.strip().splitlines()[-1:]}")
    p = new_podpy()
    p("build", "--tls-verify=false", "--all-platforms", "--manifest", "multi", ctx, timeout=300)

    def platforms(tool) -> list[str]:
        return sorted(f"{e['platform']['os']}/{e['platform']['architecture']}" for e in _list(tool, "multi"))

    assert platforms(p) == platforms(podman) == ["linux/amd64", "linux/arm64"]
    assert os.path.exists(ctx)
