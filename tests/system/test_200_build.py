"""build: every instruction and flag, the layer cache, multi-stage builds, RUN --mount and
secrets, ADD of archives and URLs, contexts from stdin and git, the errors, Ctrl-C, and a built
image pushed to a registry and pulled back."""

import http.server
import json
import os
import shutil
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from registry import LocalRegistry


@pytest.fixture
def p(new_podpy, image_tar, request):
    """A fresh store with busybox (the variant of the test's parameter, installed by default)."""
    variant = getattr(request, "param", "installed")
    q = new_podpy(variant=variant)
    q("import", image_tar, "busybox")
    return q


def ctx(tmp_path: Path, containerfile: str, files: dict | None = None, name: str = "Containerfile") -> Path:
    d = tmp_path / "ctx"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(containerfile)
    for rel, content in (files or {}).items():
        f = d / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            f.write_bytes(content)
        else:
            f.write_text(content)
    return d


def inspect(p, image):
    return json.loads(p("image", "inspect", image).stdout)[0]


def steps_run(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("RAN ")]


# -- instructions ---------------------------------------------------------------------------

METADATA = """\
FROM busybox
LABEL org.example.a="one two" b=2
ENV A=1 B="with space"
ENV C $A-$B
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
VOLUME /more
USER 1000:1000
WORKDIR /srv
WORKDIR app
STOPSIGNAL SIGUSR1
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo child
MAINTAINER someone
ENTRYPOINT ["echo", "entry"]
CMD ["arg"]
"""


def test_env_set_again_keeps_its_place(p, tmp_path):
    """As buildah (podman build): ENV A=3 after ENV A=1 B=2 gives A=3, B=2, not B=2, A=3."""
    d = ctx(tmp_path, "FROM busybox\nENV A=1 B=2\nENV A=3 C=4\nENV PATH=/x:$PATH\n")
    p("build", "-q", "-t", "envorder", d)
    env = inspect(p, "envorder")["Config"]["Env"]
    assert [e for e in env if not e.startswith("PATH=")] == ["A=3", "B=2", "C=4"]
    assert env[0].startswith("PATH=/x:") and len(env) == 4
    p("rmi", "envorder")


@pytest.mark.parametrize("p", ["installed", "zipapp"], indirect=True)
def test_metadata_instructions_make_the_config(p, tmp_path):
    d = ctx(tmp_path, METADATA)
    res = p("build", "--format", "docker", "-t", "meta", d)
    assert res.stdout.splitlines()[0] == "STEP 1/17: FROM busybox"
    assert "STEP 17/17: CMD [\"arg\"]" in res.stdout and "COMMIT meta" in res.stdout
    assert "Successfully tagged localhost/meta:latest" in res.stdout
    cfg = inspect(p, "meta")["Config"]
    assert cfg["Labels"] == {"org.example.a": "one two", "b": "2"}
    assert {"A=1", "B=with space", "C=1-with space"} <= set(cfg["Env"])
    assert any(e.startswith("PATH=") for e in cfg["Env"])
    assert set(cfg["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert set(cfg["Volumes"]) == {"/data", "/logs", "/more"}
    assert cfg["User"] == "1000:1000" and cfg["WorkingDir"] == "/srv/app" and cfg["StopSignal"] == "SIGUSR1"
    assert cfg["Entrypoint"] == ["echo", "entry"] and cfg["Cmd"] == ["arg"]
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert cfg["OnBuild"] == ["RUN echo child"] and cfg["Shell"] == ["/bin/sh", "-ec"]
    assert inspect(p, "meta")["Author"] == "someone"
    assert p("run", "--rm", "--network", "none", "meta").stdout == "entry arg\n"
    # ONBUILD triggers run in a build FROM the image
    child = ctx(tmp_path / "child", "FROM meta\nRUN echo RAN grandchild\n")
    out = p("build", "--format", "docker", "-t", "child", child).stdout
    assert "ONBUILD: RUN echo child\nchild\n" in out and "STEP 2/2: RUN echo RAN grandchild" in out
    assert "OnBuild" not in inspect(p, "child")["Config"]
    # the default format, OCI, has no HEALTHCHECK: podman's warning
    res = p("build", "-t", "oci", d)
    assert "HEALTHCHECK is not supported for OCI image format" in res.stderr
    assert "Healthcheck" not in inspect(p, "oci")["Config"]


def test_entrypoint_resets_an_inherited_cmd_and_shell_form(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nCMD [\"echo\", \"base\"]\n")
    p("build", "-t", "base", d)
    d2 = ctx(tmp_path / "2", "FROM base\nENTRYPOINT echo from-entrypoint $0\n")
    p("build", "-t", "ep", d2)
    cfg = inspect(p, "ep")["Config"]
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo from-entrypoint $0"] and "Cmd" not in cfg
    assert p("run", "--rm", "--network", "none", "ep").stdout == "from-entrypoint /bin/sh\n"


def test_run_forms_heredocs_shell_and_args(p, tmp_path):
    text = """\
FROM busybox
ARG WHO=world
ARG UNSET
ENV GREETING=hello
RUN echo "RAN $GREETING $WHO ${UNSET:-unset}" > /out
RUN ["sh", "-c", "echo RAN exec-form >> /out"]
RUN <<EOF
echo RAN heredoc >> /out
echo RAN second line >> /out
EOF
RUN <<'EOF'
#!/bin/sh
echo "RAN shebang $0" >> /out
EOF
RUN cat <<EOT >> /out
RAN heredoc as input $WHO
EOT
SHELL ["/bin/sh", "-c", "echo RAN through-shell: \\"$0\\" >> /out; eval \\"$0\\""]
RUN true
USER 1234
RUN id -u >> /tmp/uid || echo RAN no-tmp
CMD cat /out /tmp/uid
"""
    d = ctx(tmp_path, text)
    res = p("build", "--build-arg", "WHO=you", "-t", "forms", d)
    out = p("run", "--rm", "--network", "none", "forms").stdout.splitlines()
    assert out[:7] == ["RAN hello you unset", "RAN exec-form", "RAN heredoc", "RAN second line",
                       "RAN shebang /dev/pipes/EOF", "RAN heredoc as input you", "RAN through-shell: true"]
    assert out[-1] == "1234"
    hist = p("history", "--no-trunc", "--format", "{{.CreatedBy}}", "forms").stdout
    assert "|2 WHO=you UNSET= " not in hist and "|1 WHO=you /bin/sh -c echo" in hist
    assert "not consumed" not in res.stdout


def test_copy_and_add(p, tmp_path):
    arch = tmp_path / "a.tar.gz"
    src = tmp_path / "tarsrc"
    (src / "in").mkdir(parents=True)
    (src / "in" / "t").write_text("from tar\n")
    with tarfile.open(arch, "w:gz") as tf:
        tf.add(src / "in", "in")
    text = """\
FROM busybox
WORKDIR /w
COPY one.txt two.txt ./
COPY *.md /docs/
COPY dir /copied
COPY dir/ /copied-too/
COPY --chown=7:8 --chmod=600 one.txt /owned
COPY --chown=nobody one.txt /named
COPY link /via-link
ADD a.tar.gz /unpacked/
ADD one.txt /added-file
COPY ["with space.txt", "/spaced"]
COPY --exclude=*.tmp dir /excl/
"""
    files = {"one.txt": "1\n", "two.txt": "2\n", "x.md": "x\n", "y.md": "y\n", "dir/a": "a\n", "dir/sub/b": "b\n",
             "dir/skip.tmp": "t\n", "with space.txt": "s\n", "a.tar.gz": arch.read_bytes()}
    d = ctx(tmp_path, text, files)
    os.symlink("one.txt", d / "link")
    os.chmod(d / "dir" / "a", 0o751)
    p("build", "-t", "cp", d)
    script = ("cat /w/one.txt /w/two.txt; ls /docs; ls /copied; ls /copied/sub; ls /copied-too; "
              "stat -c '%u:%g %a' /owned /named /copied/a; cat /via-link; cat /unpacked/in/t /added-file /spaced; "
              "ls /excl")
    out = p("run", "--rm", "--network", "none", "cp", "sh", "-c", script).stdout.splitlines()
    assert out == ["1", "2", "x.md", "y.md", "a", "skip.tmp", "sub", "b", "a", "skip.tmp", "sub",
                   "7:8 600", "65534:65534 644", "0:0 751", "1", "from tar", "1", "s", "a", "sub"]


def test_ignore_file_with_exceptions(p, tmp_path):
    files = {"keep/a.log": "a\n", "keep/important.log": "i\n", "keep/b.txt": "b\n", "secret/key": "k\n",
             ".containerignore": "**/*.log\n!keep/important.log\nsecret\n"}
    d = ctx(tmp_path, "FROM busybox\nCOPY . /c\nCMD find /c -type f\n", files)
    p("build", "-t", "ign", d)
    found = sorted(p("run", "--rm", "--network", "none", "ign").stdout.split())
    assert found == ["/c/.containerignore", "/c/Containerfile", "/c/keep/b.txt", "/c/keep/important.log"]
    d2 = ctx(tmp_path / "2", "FROM busybox\nCOPY secret/key /k\n", files)
    res = p("build", d2, check=False)
    assert res.returncode == 125 and "1 filtered out using " in res.stderr
    # an exception reaches into an excluded directory only when it starts with the directory's name
    files = {"subdir1/sub1/f": "1\n", "subdir1/sub2/f": "2\n", "subdir1/sub3/f": "3\n", "subdir2/sub1/f": "4\n",
             ".dockerignore": "subdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n"}
    d3 = ctx(tmp_path / "3", "FROM busybox\nCOPY ./ /n/\nCMD find /n -path '*sub*'\n", files)
    p("build", "-t", "ign3", d3)
    found = sorted(p("run", "--rm", "--network", "none", "ign3").stdout.split())
    assert found == ["/n/subdir1", "/n/subdir1/sub1", "/n/subdir1/sub1/f", "/n/subdir1/sub3", "/n/subdir1/sub3/f"]
    files = {"subdir/sub1/f": "1\n", ".dockerignore": "*\nsubdir\n!*/sub1*\n"}
    d4 = ctx(tmp_path / "4", "FROM busybox\nCOPY subdir ./\n", files)
    res = p("build", d4, check=False)
    assert res.returncode == 125
    assert (f'Error: building at STEP "COPY subdir ./": no items matching glob "{os.path.realpath(d4)}/subdir" '
            f'copied (1 filtered out using {os.path.realpath(d4)}/.dockerignore): no such file or directory'
            ) in res.stderr


def test_copy_keeps_hard_links(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nCOPY d /d\nCMD stat -c '%i %h' /d/a /d/b /d/s/c\n", {"d/a": "x\n"})
    os.makedirs(d / "d" / "s")
    os.link(d / "d" / "a", d / "d" / "b")
    os.link(d / "d" / "a", d / "d" / "s" / "c")
    p("build", "-t", "links", d)
    out = p("run", "--rm", "--network", "none", "links").stdout.splitlines()
    assert len(out) == 3 and len(set(out)) == 1 and out[0].endswith(" 3")


# -- the cache ------------------------------------------------------------------------------

CACHED = """\
FROM busybox
ARG V=1
RUN echo RAN first $V; echo first $V > /first
COPY data /data
RUN echo RAN second; cat /data
CMD ["cat", "/first", "/data"]
"""


def test_cache_hit_and_misses(p, tmp_path):
    d = ctx(tmp_path, CACHED, {"data": "one\n"})
    first = p("build", "-t", "c:1", d)
    assert steps_run(first.stdout) == ["RAN first 1", "RAN second"]
    image_id = first.stdout.split()[-1]
    again = p("build", "-t", "c:2", d)
    assert steps_run(again.stdout) == [] and again.stdout.count("--> Using cache") == 5
    assert again.stdout.split()[-1] == image_id
    # a file's mtime is not its content: still cached
    os.utime(d / "data", (1, 1))
    assert steps_run(p("build", d).stdout) == []
    # changed content: the COPY and what follows miss
    (d / "data").write_text("two\n")
    changed = p("build", "-t", "c:3", d).stdout
    assert steps_run(changed) == ["RAN second"] and changed.count("--> Using cache") == 2
    # a changed ARG: the RUN using it misses
    arg = p("build", "--build-arg", "V=2", d).stdout
    assert steps_run(arg) == ["RAN first 2", "RAN second"]
    assert p("run", "--rm", "--network", "none", "c:3").stdout == "first 1\ntwo\n"
    # --no-cache runs everything again
    assert steps_run(p("build", "--no-cache", d).stdout) == ["RAN first 1", "RAN second"]
    # the steps are intermediate images: hidden from `images`, shown with -a and in history
    step_id = p("history", "c:3", "--format", "{{.ID}}").stdout.split()[1]
    assert step_id != "<missing>"
    assert step_id not in p("images").stdout and step_id in p("images", "-a").stdout
    # image prune keeps what named images were built on; rmi and prune take a build's steps away
    p("image", "prune", "-f")
    assert steps_run(p("build", d).stdout) == []
    for tag in ("c:1", "c:2", "c:3"):
        p("rmi", tag)
    p("image", "prune", "-f")
    assert "<none>" not in p("images", "-a").stdout
    assert steps_run(p("build", d).stdout) == ["RAN first 1", "RAN second"]


def test_system_prune_all_drops_the_cache(p, tmp_path, image_tar):
    d = ctx(tmp_path, CACHED, {"data": "one\n"})
    p("build", "-t", "sp", d)
    p("system", "prune", "-a", "-f")
    p("import", image_tar, "busybox")
    assert steps_run(p("build", d).stdout) == ["RAN first 1", "RAN second"]


# -- stages and flags ---------------------------------------------------------------------------

STAGES = """\
ARG BASE=busybox
FROM $BASE AS tools
RUN echo RAN tools; echo tool > /tool
FROM tools AS derived
RUN echo RAN derived; cat /tool > /derived
FROM scratch AS files
COPY --from=tools /tool /t
FROM busybox AS unused
RUN echo RAN unused
FROM ${BASE}
COPY --from=files /t /from-files
COPY --from=0 /tool /from-index
COPY --from=derived /derived /from-derived
COPY --from=busybox /bin/busybox /from-image
RUN --mount=type=bind,from=tools,source=/tool,target=/mnt/tool cat /mnt/tool > /mounted
CMD ["cat", "/from-files", "/from-index", "/from-derived", "/mounted"]
"""


def test_multi_stage_target_and_from(p, tmp_path):
    d = ctx(tmp_path, STAGES)
    res = p("build", "-t", "ms", d)
    assert steps_run(res.stdout) == ["RAN tools", "RAN derived"]
    assert "[1/5] STEP 1/2: FROM $BASE AS tools" in res.stdout and "[5/5] COMMIT ms" in res.stdout
    assert p("run", "--rm", "--network", "none", "ms").stdout == "tool\n" * 4
    assert p("run", "--rm", "--network", "none", "ms", "ls", "-l", "/from-image").returncode == 0
    t = p("build", "--target", "files", "-t", "only-files", d)
    assert "[3/3] STEP 1/2: FROM scratch AS files" in t.stdout and steps_run(t.stdout) == []
    assert "derived" not in t.stdout
    t = p("build", "--target", "tools", d)
    assert t.stdout.splitlines()[0] == "STEP 1/2: FROM $BASE AS tools"
    assert len(inspect(p, "only-files")["RootFS"]["Layers"]) == 1
    res = p("build", "--target", "nope", d, check=False)
    assert res.returncode == 125 and res.stderr.strip() == "Error: target stage 'nope' not found in Containerfile"


def test_jobs_build_independent_stages_side_by_side(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox AS a\nRUN echo RAN a; echo a > /a\nFROM busybox AS b\nRUN echo RAN b; echo b > /b\n"
                      "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nCMD cat /a /b\n")
    res = p("build", "--jobs", "2", "-t", "jobs", d)
    assert sorted(steps_run(res.stdout)) == ["RAN a", "RAN b"]
    assert res.stdout.index("[3/3] STEP 1/4") > max(res.stdout.index("[1/3] STEP 2/2"), res.stdout.index("[2/3] STEP 2/2"))
    assert p("run", "--rm", "--network", "none", "jobs").stdout == "a\nb\n"
    # a failing stage stops the one running beside it (which would take a minute)
    (d / "Containerfile").write_text("FROM busybox AS a\nRUN sleep 1; exit 3\nFROM busybox AS b\nRUN sleep 60\n"
                                     "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n")
    res = p("build", "--jobs", "0", d, check=False, timeout=30)
    assert res.returncode == 3 and "exit status 3" in res.stderr
    assert not list((p.data_home / "podpy" / "tmp").glob("build*"))


def test_flags(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nARG A\nARG B\nRUN echo RAN $A $B > /f\nRUN echo RAN two >> /f\nCMD cat /f\n",
            name="Other.containerfile")
    (tmp_path / "args").write_text("# comment\nA=from-file\nB=b\n")
    iid = tmp_path / "iid"
    res = p("build", "-f", d / "Other.containerfile", "--build-arg-file", tmp_path / "args", "--build-arg", "B=flag",
            "-t", "f1", "-t", "f2:x", "--label", "l=v", "--iidfile", iid, "--build-arg", "UNUSED=1", d)
    image_id = res.stdout.split()[-1]
    assert iid.read_text() == "sha256:" + image_id
    assert "Successfully tagged localhost/f1:latest" in res.stdout and "Successfully tagged localhost/f2:x" in res.stdout
    assert "[Warning] one or more build args were not consumed: [UNUSED]" in res.stdout
    assert inspect(p, "f2:x")["Config"]["Labels"] == {"l": "v"}
    assert p("run", "--rm", "--network", "none", "f1").stdout == "RAN from-file flag\nRAN two\n"
    # -q: the id alone, no step output
    q = p("build", "-q", "--no-cache", "-f", d / "Other.containerfile", d)
    assert len(q.stdout.strip()) == 64 and "\n" not in q.stdout.strip()
    # --layers=false and --squash: one new layer, no intermediate images
    for flag in ("--layers=false", "--squash"):
        n = len(p("images", "-a", "-q").stdout.split())
        p("build", flag, "-t", "one-layer", "-f", d / "Other.containerfile", d)
        assert len(inspect(p, "one-layer")["RootFS"]["Layers"]) == 2
        assert len(p("images", "-a", "-q").stdout.split()) == n + 1
    assert p("run", "--rm", "--network", "none", "one-layer").stdout == "RAN\nRAN two\n"
    # -f - reads the Containerfile from stdin; --network none reaches RUN
    res = p("build", "-f", "-", "--network", "none", "-t", "stdin", d,
            input="FROM busybox\nRUN ls /sys/class/net > /nets\n")
    assert p("run", "--rm", "--network", "none", "stdin", "cat", "/nets").stdout == "lo\n"
    # --pull=never with a missing image; --pull alone means always (a local name cannot be pulled)
    for flag in ("--pull=never", "--pull-never"):   # podman's hidden spelling too
        res = p("build", flag, "-f", "-", d, input="FROM nothere\n", check=False)
        assert res.returncode == 125 and "Error: creating build container: nothere: image not known" in res.stderr
    # BUILDAH_LAYERS=false is --layers=false, unless --layers is given
    n = len(p("images", "-a", "-q").stdout.split())
    res = p("build", "--no-cache", "-t", "envlayers", "-f", d / "Other.containerfile", d,
            env={"BUILDAH_LAYERS": "false"})
    assert len(p("images", "-a", "-q").stdout.split()) == n + 1
    res = p("build", "--layers", "-f", d / "Other.containerfile", d, env={"BUILDAH_LAYERS": "false"})
    assert "Using cache" in res.stdout
    res = p("build", "--squash-all", "--squash", d, check=False)
    assert res.returncode == 125
    assert res.stderr.strip() == "Error: cannot specify --squash with --layers and --squash-all with --squash"


def test_context_from_stdin_and_git(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nCOPY hello /hello\nCMD [\"cat\", \"/hello\"]\n", {"hello": "from tar\n"})
    tar = tmp_path / "ctx.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(d, ".")
    with open(tar, "rb") as stdin:
        proc = subprocess.run(p.command("build", "-t", "fromtar", "-"), stdin=stdin, capture_output=True,
                              env=p.environ(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert p("run", "--rm", "--network", "none", "fromtar").stdout == "from tar\n"
    # anything but a tar on stdin is the Containerfile, the Dockerfile of an empty context
    text = "FROM busybox\nCOPY Dockerfile /d\nRUN stat -c %a /d\n"
    res = p("build", "-t", "fromtext", "-", input=text)
    assert "\n600\n" in res.stdout
    assert p("run", "--rm", "--network", "none", "fromtext", "cat", "/d").stdout == text
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the git context is not tested")
    repo = tmp_path / "repo.git"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(d)], check=True)
    (d / "sub").mkdir()
    (d / "sub" / "Containerfile").write_text("FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n")
    (d / "sub" / "f").write_text("from git\n")
    subprocess.run(git + ["-C", str(d), "add", "."], check=True)
    subprocess.run(git + ["-C", str(d), "commit", "-qm", "x"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(d), str(repo)], check=True)
    p("build", "-t", "fromgit", f"file://{repo}#main:sub")
    assert p("run", "--rm", "--network", "none", "fromgit").stdout == "from git\n"


# -- RUN --mount, secrets, ADD from a URL -------------------------------------------------------------

def test_run_mounts_and_secrets(p, tmp_path):
    text = """\
FROM busybox
RUN --mount=type=cache,target=/cache echo x >> /cache/n && echo RAN count $(wc -l < /cache/n)
RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && echo RAN tmpfs $(ls /scratch)
RUN --mount=type=bind,source=sub,target=/src echo RAN bind $(cat /src/f) && ! touch /src/g 2>/dev/null
RUN --mount=type=bind,source=sub,target=/src,rw touch /src/g && echo RAN rw-bind
RUN --mount=type=secret,id=token echo RAN secret $(cat /run/secrets/token) $(stat -c %a /run/secrets/token)
RUN --mount=type=secret,id=token,target=/s,mode=0440,uid=5 echo RAN target $(stat -c '%a %u' /s)
RUN --mount=type=secret,id=absent echo RAN without
RUN ls /run/secrets /s /cache /scratch /src 2>&1 | grep -c 'No such' | sed 's/^/RAN missing /'
"""
    d = ctx(tmp_path, text, {"sub/f": "content\n"})
    (tmp_path / "tok").write_text("s3cret")
    res = p("build", "--secret", f"id=token,src={tmp_path / 'tok'}", "-t", "mnt", d)
    assert steps_run(res.stdout) == ["RAN count 1", "RAN tmpfs t", "RAN bind content", "RAN rw-bind",
                                     "RAN secret s3cret 400", "RAN target 440 5", "RAN without", "RAN missing 5"]
    assert not (d / "sub" / "g").exists()
    assert "s3cret" not in p("history", "--no-trunc", "mnt").stdout
    again = p("build", "--no-cache", "--secret", f"id=token,src={tmp_path / 'tok'}", d).stdout
    assert "RAN count 2" in again
    res = p("build", "-f", "-", d, input="FROM busybox\nRUN --mount=type=secret,id=x,required cat /run/secrets/x\n",
            check=False)
    assert res.returncode == 125 and "the secret 'x' is required" in res.stderr


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_add_url_with_checksum(p, tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    (served / "file.txt").write_text("downloaded\n")
    import hashlib

    digest = "sha256:" + hashlib.sha256(b"downloaded\n").hexdigest()
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/file.txt"
        d = ctx(tmp_path, f"FROM busybox\nADD --checksum={digest} {url} /dl/\nCMD stat -c %a /dl/file.txt\n")
        p("build", "-t", "url", d)
        assert p("run", "--rm", "--network", "none", "url").stdout == "600\n"
        bad = ctx(tmp_path / "bad", f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url} /dl/\n")
        res = p("build", bad, check=False)
        assert res.returncode == 125 and "the content's digest is" in res.stderr
    finally:
        server.shutdown()
        server.server_close()


# -- faults -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("FROM busybox\nFOO bar\n", "Error: Containerfile:2: unknown instruction: FOO"),
    ("FROM busybox\n\nENV\n", "Error: Containerfile:3: ENV requires at least one argument"),
    ("FROM busybox\nCOPY nothere /x\n", "nothere: no such file or directory in the build context"),
    ("FROM busybox\nCOPY ../outside /x\n", "../outside: the path is outside the build context"),
    ("FROM busybox\nCOPY --from=nostage /a /b\n", "nostage"),
    ("FROM nosuchimage\n", "nosuchimage: image not known"),
    ("FROM busybox\nCOPY https://example.com/x /x\n", "source can't be a URL for COPY"),
    ("FROM busybox\nRUN <<EOF\necho\n", "Error: Containerfile:2: the heredoc EOF is not terminated"),
])
def test_bad_input_is_one_line_and_leaves_nothing(p, tmp_path, text, message):
    d = ctx(tmp_path, text)
    before = p("images", "-a", "-q").stdout
    res = p("build", "--pull=never", d, check=False)
    assert res.returncode == 125, res
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in res.stderr
    assert p("images", "-a", "-q").stdout == before


def test_missing_containerfile_and_context(p, tmp_path):
    (tmp_path / "empty").mkdir()
    res = p("build", tmp_path / "empty", check=False)
    assert res.returncode == 125 and "no Containerfile or Dockerfile" in res.stderr
    res = p("build", tmp_path / "nowhere", check=False)
    assert res.returncode == 125 and "does not exist" in res.stderr
    res = p("build", "-f", tmp_path / "nofile", tmp_path / "empty", check=False)
    assert res.returncode == 125 and res.stderr.strip().endswith("/nofile: no such file or directory")
    res = p("build", "-f", "Containerfile2", tmp_path / "empty", check=False)
    assert res.returncode == 125
    where = os.path.realpath(tmp_path / "empty")
    assert res.stderr.strip() == f"Error: stat {where}/Containerfile2: no such file or directory"


def test_failing_run_gives_its_code_and_keeps_no_layer(p, tmp_path):
    d = ctx(tmp_path, "FROM busybox\nRUN echo RAN ok\nRUN echo RAN failing; touch /partial; exit 7\n")
    res = p("build", d, check=False)
    assert res.returncode == 7
    assert res.stderr.strip().splitlines()[-1] == (
        'Error: building at STEP "RUN echo RAN failing; touch /partial; exit 7": while running runtime: '
        'exit status 7')
    assert not list((p.data_home / "podpy" / "tmp").glob("build*"))
    again = p("build", d, check=False)
    assert steps_run(again.stdout) == ["RAN failing"] and again.returncode == 7


def test_ctrl_c_stops_a_run_and_leaves_the_cache_consistent(p, tmp_path):
    # the marker is computed by the step, so the STEP line itself does not show it
    d = ctx(tmp_path, "FROM busybox\nRUN echo RAN before\nRUN echo RAN sleeping $((6*7)); sleep 60\n")
    proc = subprocess.Popen(p.command("build", d), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=p.environ(), start_new_session=True, text=True)
    deadline = time.time() + 30
    seen = ""
    while "RAN sleeping 42" not in seen and time.time() < deadline:
        seen += proc.stdout.readline()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert "RAN sleeping 42" in seen and proc.returncode == 130, err
    assert not list((p.data_home / "podpy" / "tmp").glob("build*"))
    d2 = ctx(tmp_path, "FROM busybox\nRUN echo RAN before\nRUN echo RAN sleeping\n")
    assert steps_run(p("build", d2).stdout) == ["RAN sleeping"]


# -- drivers, push ----------------------------------------------------------------------------------

@pytest.mark.parametrize("driver", ["vfs", "fuse-overlayfs"])
def test_build_on_other_drivers(new_podpy, image_tar, tmp_path, harness_tmp, driver):
    from helpers import driver_skip_reason

    reason = driver_skip_reason(driver, harness_tmp)
    if reason:
        pytest.skip(f"storage driver {driver} unavailable: {reason}")
    q = new_podpy(driver=driver)
    q("import", image_tar, "busybox")
    d = ctx(tmp_path, "FROM busybox\nRUN rm /bin/vi && mkdir /made && echo x > /made/f\nCOPY f /f\n"
                      "RUN rm -rf /made && mkdir /made && echo y > /made/g\n", {"f": "file\n"})
    q("build", "-t", "v", d)
    out = q("run", "--rm", "--network", "none", "v", "sh", "-c", "ls /bin/vi 2>&1; ls /made; cat /f").stdout
    assert "No such file" in out and out.endswith("g\nfile\n")
    assert steps_run(q("build", d).stdout) == []


def test_built_image_pushed_and_pulled_back(p, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    d = ctx(tmp_path, "FROM busybox\nRUN rm /bin/vi; echo built > /built\nCOPY f /f\nCMD [\"cat\", \"/built\", \"/f\"]\n",
            {"f": "copied\n"})
    p("build", "-t", "pushme", d)
    (tmp_path / "reg").mkdir()
    reg = LocalRegistry(tmp_path / "reg")
    try:
        dest = f"{reg.host}/built/pushme:1"
        p("push", "--tls-verify=false", "pushme", dest)
        fresh = p.__class__(variant=p.variant, argv=p.argv, home=tmp_path / "fresh", base_env=p.base_env)
        fresh("pull", "--tls-verify=false", dest)
        assert fresh("run", "--rm", "--network", "none", dest).stdout == "built\ncopied\n"
        assert "No such file" in fresh("run", "--rm", "--network", "none", dest, "sh", "-c", "ls /bin/vi 2>&1; true").stdout
        pulled, built = inspect(fresh, dest), inspect(p, "pushme")
        assert len(pulled["RootFS"]["Layers"]) == len(built["RootFS"]["Layers"]) == 3
        assert pulled["RootFS"]["Layers"][1:] == built["RootFS"]["Layers"][1:]   # the built layers keep their ids
        # a build FROM the registry's image: --pull (alone: always) fetches it; --platform names the host's
        d2 = ctx(tmp_path / "2", f"FROM --platform=$BUILDPLATFORM {dest}\nRUN cat /built\n")
        other = p.__class__(variant=p.variant, argv=p.argv, home=tmp_path / "other", base_env=p.base_env)
        res = other("build", "--pull", "--tls-verify=false", d2)
        assert "built\n" in res.stdout and "Copying blob" in res.stderr
    finally:
        reg.stop()
