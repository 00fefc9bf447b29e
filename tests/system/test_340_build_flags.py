"""build's flags beyond the Containerfile: what the image records (--env, --unsetenv,
--annotation, the platform, --timestamp, --omit-history, --squash-all), what RUN gets
(--add-host, --dns, --no-hosts, capabilities, --volume, --ulimit, --shm-size, --stdin, the
proxy variables), the inputs (--from, --build-context, --ignorefile, --cpp-flag,
--skip-unused-stages), the outputs (-o, --manifest, --logfile), and the refusals, compared
with podman where it runs here."""

import json
import os
import tarfile
from pathlib import Path

import pytest


@pytest.fixture
def p(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    return q


def ctx(tmp_path: Path, containerfile: str, files: dict | None = None, name: str = "Containerfile") -> Path:
    d = tmp_path / "ctx"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(containerfile)
    for rel, content in (files or {}).items():
        f = d / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(content)
    return d


def inspect(runner, image):
    return json.loads(runner("image", "inspect", image).stdout)[0]


def cat(p, image, path):
    return p("run", "--rm", image, "cat", path).stdout


def image_count(p):
    return len(p("images", "-a", "-q").stdout.split())


# -- what the image records ----------------------------------------------------------------

ENV_FILE = "FROM localhost/busybox\nENV A=1\nRUN echo \"B=$B\" > /seen\n"


def test_env_and_unsetenv_set_the_image_as_podman_and_not_run(p, podman, tmp_path):
    d = ctx(tmp_path, ENV_FILE)
    flags = ["--env", "B=2", "--env", "A=3", "--unsetenv", "PATH"]
    p("build", "-q", "-t", "e", *flags, d)
    podman("build", "-q", "-t", "e", *flags, d)
    ours, theirs = inspect(p, "e"), inspect(podman, "e")
    assert ours["Config"]["Env"] == theirs["Config"]["Env"] == ["B=2", "A=3"]
    # RUN did not see --env's variable, as in podman
    assert p("run", "--rm", "e", "/bin/cat", "/seen").stdout == "B=\n"


def test_annotation_is_in_the_manifest_and_inspect(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\nLABEL x=y\n")
    p("build", "-q", "-t", "a", "--annotation", "org.example.k=v", d)
    podman("build", "-q", "-t", "a", "--annotation", "org.example.k=v", d)
    assert inspect(p, "a")["Annotations"]["org.example.k"] == "v"
    assert inspect(podman, "a")["Annotations"]["org.example.k"] == "v"


def test_timestamp_sets_created_history_and_mtimes_reproducibly(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\nCOPY f /f\nRUN touch /g\n", {"f": "x"})
    first = p("build", "-q", "--no-cache", "--timestamp", "0", d).stdout.split()[-1]
    second = p("build", "-q", "--no-cache", "--timestamp", "0", d).stdout.split()[-1]
    assert first == second     # the same sources and the same time: the same image
    podman("build", "-q", "-t", "ts", "--timestamp", "0", d)
    ours, theirs = inspect(p, first), inspect(podman, "ts")
    assert ours["Created"].startswith("1970-01-01T00:00:00")
    assert theirs["Created"].startswith("1970-01-01T00:00:00")
    built = [h["created"] for h in ours["History"][-2:]]
    assert built == [h["created"] for h in theirs["History"][-2:]] == ["1970-01-01T00:00:00Z"] * 2
    assert p("run", "--rm", first, "stat", "-c", "%Y", "/f", "/g").stdout.split() == ["0", "0"]


def test_omit_history_leaves_none_as_podman(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\nRUN touch /x\n")
    p("build", "-q", "-t", "h", "--omit-history", d)
    podman("build", "-q", "-t", "h", "--omit-history", d)
    assert not inspect(p, "h")["History"]
    assert not inspect(podman, "h")["History"]


def test_arch_and_os_of_a_scratch_image_as_podman(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM scratch\nARG TARGETARCH\nLABEL t=$TARGETARCH\n")
    p("build", "-q", "-t", "s", "--platform", "linux/arm64", d)
    podman("build", "-q", "-t", "s", "--platform", "linux/arm64", d)
    ours, theirs = inspect(p, "s"), inspect(podman, "s")
    assert (ours["Architecture"], ours["Os"]) == (theirs["Architecture"], theirs["Os"]) == ("arm64", "linux")
    assert ours["Labels"]["t"] == theirs["Labels"]["t"] == "arm64"
    p("build", "-q", "-t", "s2", "--arch", "arm", "--variant", "v7", d)
    assert inspect(p, "s2")["Architecture"] == "arm"


def test_squash_all_makes_one_layer_with_the_builds_history(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\nRUN echo one > /one\nRUN rm /bin/true\n")
    p("build", "-q", "-t", "sq", "--squash-all", d)
    podman("build", "-q", "-t", "sq", "--squash-all", d)
    ours, theirs = inspect(p, "sq"), inspect(podman, "sq")
    assert len(ours["RootFS"]["Layers"]) == len(theirs["RootFS"]["Layers"]) == 1
    assert [h["created_by"] for h in ours["History"]] == [h["created_by"] for h in theirs["History"]]
    assert [bool(h.get("empty_layer")) for h in ours["History"]] == [True, False]
    assert cat(p, "sq", "/one") == "one\n"
    assert p("run", "--rm", "sq", "ls", "/bin/true", check=False).returncode != 0


# -- the build's inputs --------------------------------------------------------------------

def test_squash_all_and_output_of_an_empty_scratch_image(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM scratch\nLABEL only=label\n")
    p("build", "-q", "-t", "empty", "--squash-all", "-o", tmp_path / "emptyout", d)
    podman("build", "-q", "-t", "empty", "--squash-all", d)
    assert len(inspect(p, "empty")["RootFS"]["Layers"]) == len(inspect(podman, "empty")["RootFS"]["Layers"])
    assert list((tmp_path / "emptyout").iterdir()) == []


def test_from_replaces_the_first_from(p, tmp_path):
    d = ctx(tmp_path, "FROM no-such-image-here\nRUN echo ok > /ok\n")
    p("build", "-q", "-t", "f", "--from", "busybox", d)
    assert cat(p, "f", "/ok") == "ok\n"


def test_build_context_directory_and_image(p, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "data.txt").write_text("from the extra context\n")
    d = ctx(tmp_path, "FROM base\nCOPY --from=more data.txt /data.txt\n"
                      "RUN --mount=type=bind,from=more,target=/m cat /m/data.txt > /mounted\n")
    p("build", "-q", "-t", "bc", "--build-context", f"more={extra}", "--build-context",
      "base=docker-image://busybox", d)
    assert cat(p, "bc", "/data.txt") == "from the extra context\n"
    assert cat(p, "bc", "/mounted") == "from the extra context\n"


def test_ignorefile_replaces_the_contexts_own(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nCOPY . /c/\n", {"keep": "k", "drop": "d"})
    ign = tmp_path / "my.ignore"
    ign.write_text("drop\n")
    p("build", "-q", "-t", "ig", "--ignorefile", ign, d)
    assert p("run", "--rm", "ig", "ls", "/c").stdout.split() == ["Containerfile", "keep"]


def test_cpp_flag_preprocesses_a_containerfile_in(p, tmp_path):
    d = ctx(tmp_path, '#include "part.inc"\nRUN echo VALUE > /v\n', {"part.inc": "FROM busybox\n"},
            name="Containerfile.in")
    p("build", "-q", "-t", "cpp", "-f", d / "Containerfile.in", "--cpp-flag", "-DVALUE=defined", d)
    assert cat(p, "cpp", "/v") == "defined\n"


def test_skip_unused_stages_false_builds_every_stage(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox AS unused\nRUN echo UNUSED-RAN\nFROM busybox\nRUN echo FINAL-RAN\n")
    out = p("build", "--no-cache", d).stdout
    assert "UNUSED-RAN" not in out and "FINAL-RAN" in out
    out = p("build", "--no-cache", "--skip-unused-stages=false", d).stdout
    assert "UNUSED-RAN" in out and "FINAL-RAN" in out


def test_cache_ttl_zero_uses_no_cache(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN echo hello > /h\n")
    p("build", d)
    assert "Using cache" in p("build", d).stdout
    assert "Using cache" in p("build", "--cache-ttl", "1h", d).stdout
    assert "Using cache" not in p("build", "--cache-ttl", "0", d).stdout


# -- what RUN gets -------------------------------------------------------------------------

def test_add_host_dns_and_no_hosts_in_run(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN cat /etc/hosts /etc/resolv.conf > /seen\n")
    p("build", "-q", "-t", "n", "--add-host", "myhost:10.1.2.3", "--dns", "9.9.9.9",
      "--dns-search", "example.org", "--dns-option", "ndots:3", d)
    seen = cat(p, "n", "/seen")
    assert "10.1.2.3\tmyhost" in seen or "10.1.2.3 myhost" in seen
    assert "nameserver 9.9.9.9" in seen and "example.org" in seen and "ndots:3" in seen
    # with --no-hosts RUN keeps the image's /etc/hosts (busybox has none)
    d2 = ctx(tmp_path / "2", "FROM busybox\nRUN ls /etc > /seen\n")
    p("build", "-q", "-t", "nh", "--no-hosts", d2)
    assert "hosts" not in cat(p, "nh", "/seen").split()
    res = p("build", "-q", "--no-hosts", "--add-host", "other:10.9.9.9", d2, check=False)
    assert res.returncode == 125
    assert res.stderr.strip() == "Error: --no-hosts and --add-host conflict, can not be used together"


def test_cap_drop_and_cap_add_in_run(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN grep CapEff /proc/self/status > /caps\n")
    # the cache does not key on RUN's settings (as buildah's): --no-cache runs each again
    p("build", "-q", "-t", "c0", d)
    p("build", "-q", "--no-cache", "-t", "c1", "--cap-drop", "chown", d)
    p("build", "-q", "--no-cache", "-t", "c2", "--cap-add", "sys_admin", d)
    eff = {t: int(cat(p, t, "/caps").split()[1], 16) for t in ("c0", "c1", "c2")}
    assert eff["c0"] & 1 and not eff["c1"] & 1     # CAP_CHOWN
    assert eff["c2"] & (1 << 21) and not eff["c0"] & (1 << 21)   # CAP_SYS_ADMIN


def test_volume_is_bound_during_run_and_not_in_the_image(p, tmp_path):
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "in.txt").write_text("from the host\n")
    d = ctx(tmp_path, "FROM busybox\nRUN cat /mnt/vol/in.txt > /copied && echo back > /mnt/vol/out.txt\n")
    p("build", "-q", "-t", "v", "-v", f"{host}:/mnt/vol", d)
    assert cat(p, "v", "/copied") == "from the host\n"
    assert (host / "out.txt").read_text() == "back\n"
    assert p("run", "--rm", "v", "ls", "/mnt/vol", check=False).returncode != 0


def test_ulimit_and_shm_size_in_run(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN ulimit -n > /u && df -k /dev/shm | tail -1 > /shm\n")
    p("build", "-q", "-t", "u", "--ulimit", "nofile=512:512", "--shm-size", "8m", d)
    assert cat(p, "u", "/u") == "512\n"
    assert cat(p, "u", "/shm").split()[1] == "8192"


def test_device_and_security_opt_in_run(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN ls /dev/mynull > /dev_seen && (cat /etc/hostname > /h 2>&1 || true)\n")
    p("build", "-q", "-t", "dv", "--device", "/dev/null:/dev/mynull", "--security-opt", "mask=/etc/hostname", d)
    assert cat(p, "dv", "/dev_seen") == "/dev/mynull\n"
    assert cat(p, "dv", "/h") == ""     # masked: an empty file


def test_stdin_reaches_run(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN cat > /in\n")
    p("build", "-q", "-t", "si", "--stdin", d, input="typed\n")
    assert cat(p, "si", "/in") == "typed\n"


def test_http_proxy_passes_the_proxy_variables(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN echo \"$http_proxy\" > /proxy\n")
    env = {"http_proxy": "http://proxy.example:3128"}
    p("build", "-q", "-t", "px", d, env=env)
    assert cat(p, "px", "/proxy") == "http://proxy.example:3128\n"
    assert "http_proxy" not in json.dumps(inspect(p, "px")["Config"])
    p("build", "-q", "--no-cache", "-t", "px2", "--http-proxy=false", d, env=env)
    assert cat(p, "px2", "/proxy") == "\n"


def test_memory_limit_applies_or_warns_as_run_does(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN cat /proc/self/cgroup > /cg\n")
    res = p("build", "-t", "m", "-m", "64m", d)
    if "ignored" in res.stderr:   # no delegated cgroup tree: run's warning, and the step runs anyway
        assert "--memory ignored" in res.stderr
    else:                         # the step ran in a cgroup of its own
        assert "podpy-build-" in cat(p, "m", "/cg")
    print(res.stderr)


# -- what comes out ------------------------------------------------------------------------

def test_output_local_and_tar(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox AS b\nRUN echo made > /made\nFROM scratch\nCOPY --from=b /made /made\n")
    out = tmp_path / "outdir"
    p("build", "-q", "-o", f"type=local,dest={out}", d)
    assert (out / "made").read_text() == "made\n"
    tar = tmp_path / "out.tar"
    p("build", "-q", "--output", f"type=tar,dest={tar}", d)
    with tarfile.open(tar) as tf:
        member = next(m for m in tf.getmembers() if m.name.lstrip("./") == "made")
        assert tf.extractfile(member).read() == b"made\n"
    # -o -: the tar on stdout, the build's lines on stderr
    res = p("build", "-o", "-", d)
    assert "STEP 1/" in res.stderr and res.stdout.startswith("made")


def test_manifest_gets_the_built_image(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN touch /m\n")
    image = p("build", "-q", "--manifest", "mylist", d).stdout.split()[-1]
    listed = json.loads(p("manifest", "inspect", "mylist").stdout)
    assert len(listed["manifests"]) == 1
    p("build", "-q", "--no-cache", "--manifest", "mylist", "--timestamp", "5", d)
    assert len(json.loads(p("manifest", "inspect", "mylist").stdout)["manifests"]) == 2
    assert image


def test_logfile_gets_the_output(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN echo LOGGED-LINE\n")
    log = tmp_path / "build.log"
    res = p("build", "--no-cache", "--logfile", log, d)
    assert res.stdout == ""    # as podman: all of it, the image id too, is in the file
    text = log.read_text()
    assert "LOGGED-LINE" in text and "STEP 2/2" in text
    assert text.splitlines()[-1] == p("images", "-q", "--no-trunc").stdout.split()[0].removeprefix("sha256:")


def test_retry_tries_an_unreachable_registry_again(p, tmp_path):
    d = ctx(tmp_path, "FROM 127.0.0.1:9/nothing/here\n")
    res = p("build", "--retry", "2", "--retry-delay", "0.1s", "--tls-verify=false", d, check=False)
    assert res.returncode == 125
    assert "Failed, retrying in 0.1s ... (1/2)" in res.stderr
    assert "Failed, retrying in 0.1s ... (2/2)" in res.stderr
    res = p("build", "--retry", "0", "--tls-verify=false", d, check=False)
    assert res.returncode == 125 and "retrying" not in res.stderr


def test_accepted_flags_that_change_nothing(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN true\n")
    p("build", "-q", "--rm=false", "--force-rm", "--compress", "-D", "--runtime-flag", "debug",
      "--isolation", "chroot", "--identity-label=false", "--retry", "1", "--retry-delay", "1s",
      "--cgroupns", "private", "--ipc", "private", "--pid", "private", "--uts", "private", "--userns", "host", d)


# -- refusals and bad input -----------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--env", "=x"], "--env"),
    (["--annotation", "novalue"], "--annotation"),
    (["--platform", "linux"], "--platform"),
    (["--platform", "linux/amd64,linux/arm64/v8/x"], "--platform"),
    (["--output", "type=registry,dest=x"], "--output"),
    (["--isolation", "vm"], "--isolation"),
    (["--cap-add", "not_a_cap"], "not_a_cap"),
    (["--ulimit", "bogus=1"], "bogus"),
    (["--volume", "relative:/x"], "volume"),
    (["--cache-from", "localhost/cache"], "registry"),
    (["--userns", "keep-id"], "checking user namespace: stat keep-id"),   # podman's: a path is wanted
    (["--pid", "container:other"], "--pid"),
    (["--manifest", "busybox"], "not a manifest list"),
    (["--output", "type=tar,dest=/no/such/dir/x.tar"], "does not exist"),
    (["--userns-uid-map", "0:1:99999999"], "--userns-uid-map"),
    (["--all-platforms"], "base image name \"busybox\" didn't resolve to"),
    (["--decryption-key", "k"], "Unable to read file: open k: no such file or directory"),
    (["--sign-by", "me"], 'key "me" not found'),
])
def test_bad_or_refused_flags_make_nothing(p, tmp_path, args, words):
    d = ctx(tmp_path, "FROM busybox\nRUN touch /x\n")
    before = image_count(p)
    res = p("build", "-t", "bad", *args, d, check=False)
    assert res.returncode == 125
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and words.lower() in errors[0].lower()
    assert image_count(p) == before
    assert os.path.exists(d)


def test_the_image_config_matches_podmans_with_many_flags(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\nENV A=1 PATH=/usr/bin:/bin\nWORKDIR /srv\nRUN touch f\n"
                      "CMD [\"sh\"]\n")
    flags = ["--env", "PATH=/opt/bin", "--env", "Z=26", "--unsetenv", "A", "--label", "l=1", "--label", "m=x y",
             "--platform", "linux/amd64", "--annotation", "a=b", "--timestamp", "100", "--add-host", "h:1.1.1.1",
             "--dns", "8.8.8.8", "--cap-drop", "net_raw", "--ulimit", "nofile=1000:1000"]
    p("build", "-q", "-t", "many", *flags, d)
    podman("build", "-q", "-t", "many", *flags, d)
    ours, theirs = inspect(p, "many"), inspect(podman, "many")
    theirs["Config"]["Labels"].pop("io.buildah.version", None)
    assert ours["Config"] == theirs["Config"]
    for key in ("Architecture", "Os", "Created", "Author"):
        assert ours[key] == theirs[key], key
    assert [(h["created"], h["created_by"]) for h in ours["History"][1:]] == \
        [(h["created"], h["created_by"]) for h in theirs["History"][1:]]


def test_each_label_is_a_step_as_podman_shows_it(p, podman, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox AS a\nRUN true\nFROM localhost/busybox\nRUN true\n")
    ours = p("build", "--label", "l=1", "--label", "m=x y", d).stdout
    theirs = podman("build", "--label", "l=1", "--label", "m=x y", d).stdout
    steps = [ln for ln in ours.splitlines() if "STEP" in ln]
    assert steps == [ln for ln in theirs.splitlines() if "STEP" in ln]
    assert steps[-2:] == ['[2/2] STEP 3/4: LABEL "l"="1"', '[2/2] STEP 4/4: LABEL "m"="x y"']
