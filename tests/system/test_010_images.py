"""import, images, tag, untag, image exists/inspect, rmi — against a real store."""

import json
import subprocess

import pytest


def test_import_names_and_lists(podpy, busybox, image_tar):
    out = podpy("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert "localhost/busybox:latest" in out
    rows = json.loads(podpy("images", "--format", "json").stdout)
    entry = next(r for r in rows if "localhost/busybox:latest" in (r["Names"] or []))
    assert len(entry["Id"]) == 64 and entry["Size"] > 1_000_000
    table = podpy("images").stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]


def test_import_from_stdin_and_change(podpy, image_tar):
    with open(image_tar, "rb") as f:
        data = f.read()
    proc = subprocess.run(podpy.command("import", "-c", "CMD [\"echo\", \"from-cmd\"]", "-c", "ENV X=1",
                                        "-", "stdin-img"),
                          input=data, capture_output=True, env=podpy.environ(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.decode().strip()   # podman's form of an import's id
    assert printed.startswith("sha256:") and len(printed) == 71
    image_id = printed[7:]
    cfg = json.loads(podpy("image", "inspect", "stdin-img").stdout)[0]["Config"]
    assert cfg["Cmd"] == ["echo", "from-cmd"] and "X=1" in cfg["Env"]
    assert podpy("run", "--rm", "--network", "none", "stdin-img").stdout == "from-cmd\n"
    podpy("rmi", "stdin-img")


def test_tag_exists_and_rmi_untags(podpy, busybox):
    podpy("tag", "busybox", "extra:one", "quay.io/some/thing:v2")
    assert podpy("image", "exists", "localhost/extra:one").returncode == 0
    assert podpy("image", "exists", "quay.io/some/thing:v2").returncode == 0
    assert podpy("image", "exists", "nosuch-image", check=False).returncode == 1
    ids = {r["Id"] for r in json.loads(podpy("images", "--format", "json").stdout)
           if "localhost/extra:one" in (r["Names"] or [])}
    busy = json.loads(podpy("image", "inspect", "busybox").stdout)[0]["Id"]
    assert ids == {busy}
    out = podpy("rmi", "extra:one").stdout
    assert "Untagged: localhost/extra:one" in out and "Deleted" not in out
    podpy("rmi", "quay.io/some/thing:v2")
    assert podpy("image", "exists", "busybox").returncode == 0


def test_rmi_of_a_name_found_by_its_end_takes_that_name_only(new_podpy, image_tar):
    """`rmi u5:1` of an image also named quay.io/x/u5:1 and more: that name goes, the image and
    its other names stay (a short name found as the end of a stored one, as podman finds it)."""
    p = new_podpy()
    p("import", image_tar, "busybox")
    p("tag", "busybox", "docker.io/u4", "quay.io/x/u5:1", "t6")
    assert p("rmi", "u5:1").stdout == "Untagged: quay.io/x/u5:1\n"
    assert sorted(p("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()) == [
        "docker.io/library/u4:latest", "localhost/busybox:latest", "localhost/t6:latest"]
    # untag takes the name podman makes of what is given: a short name is localhost/'s
    res = p("untag", "busybox", "u4", check=False)
    assert (res.returncode, res.stderr.strip()) == (125, "Error: localhost/u4:latest: tag not known")
    p("untag", "busybox", "docker.io/u4")
    assert p("image", "exists", "docker.io/library/u4", check=False).returncode == 1
    # `images NAME` is podman's reference filter: patterns, and no error for no match
    assert p("images", "--format", "{{.Repository}}", "t*").stdout.split() == ["localhost/busybox", "localhost/t6"]
    assert p("images", "-q", "nosuch").stdout == ""
    assert p("images", "-q", "--no-trunc", "t6").stdout.startswith("sha256:")
    # rmi -a removes everything without errors for the layers already gone; on nothing, nothing
    d = p.home / "ctx"
    d.mkdir()
    (d / "Containerfile").write_text("FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n")
    p("build", "-q", "-t", "built", str(d))
    res = p("rmi", "-af")
    assert res.returncode == 0 and "Error" not in res.stderr
    assert p("images", "-aq").stdout == ""
    assert (p("rmi", "-a").returncode, p("rmi", "-a").stdout) == (0, "")


def test_untag_takes_names_off(new_podpy, image_tar):
    """podman's `untag`: the names given (a name the image lacks fails and takes none off),
    or all of them; the image stays, unnamed."""
    p = new_podpy()
    p("import", image_tar, "busybox")
    p("tag", "busybox", "a:1", "b:2")
    res = p("untag", "busybox", "a:1", "x:9", check=False)
    assert res.returncode == 125 and res.stderr.strip() == "Error: localhost/x:9: tag not known"
    assert p("image", "exists", "a:1").returncode == 0
    assert p("untag", "busybox", "a:1").stdout == ""
    assert p("image", "exists", "a:1", check=False).returncode == 1
    image_id = json.loads(p("image", "inspect", "b:2").stdout)[0]["Id"]
    p("image", "untag", "b:2")
    assert p("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout == f"<none>:<none> {image_id[:12]}\n"
    events = sorted(p("events", "--stream=false", "--filter", "event=untag", "--filter", f"image={image_id}",
                      "--format", "{{.Name}}").stdout.split())
    assert events == ["localhost/a:1", "localhost/b:2", "localhost/busybox:latest"]


def test_inspect_image_template(podpy, busybox):
    out = podpy("image", "inspect", "--format", "{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}",
                "busybox").stdout
    assert out.startswith("linux/") and out.strip().endswith(" 1")


def test_an_image_made_here_has_a_digest_and_repo_digests(new_podpy, image_tar):
    """As in containers-storage: an imported image gets the manifest of its layers; its digest
    is shown for each of its repositories and names it."""
    p = new_podpy()
    p("import", image_tar, "digested")
    p("tag", "digested", "other/name:v1")
    got = json.loads(p("image", "inspect", "digested").stdout)[0]
    digest = got["Digest"]
    assert digest.startswith("sha256:") and len(digest) == 71
    assert sorted(got["RepoDigests"]) == [f"localhost/digested@{digest}", f"localhost/other/name@{digest}"]
    assert p("image", "inspect", "--format", "{{.Id}}", f"localhost/digested@{digest}").stdout.strip() == got["Id"]
    res = p("image", "inspect", f"localhost/unrelated@{digest}", check=False)
    assert res.returncode == 125 and "image not known" in res.stderr


def test_rmi_refuses_image_in_use_unless_forced(new_podpy, image_tar):
    p = new_podpy()
    p("import", image_tar, "busybox")
    p("create", "--name", "user-of-image", "busybox", "true")
    res = p("rmi", "busybox", check=False)
    assert res.returncode == 2 and "in use" in res.stderr
    assert p("image", "exists", "busybox").returncode == 0
    out = p("rmi", "-f", "busybox").stdout
    assert "Deleted:" in out
    assert p("container", "exists", "user-of-image", check=False).returncode == 1
    assert not any((p.data_home / "podpy" / "layers").iterdir())


@pytest.mark.parametrize("args,msg", [
    (["import", "/nonexistent.tar", "x"], "no such file"),
    (["import", "/etc/hostname", "Bad_Name"], "invalid reference"),
    (["rmi", "nosuch"], "image not known"),
    (["tag", "nosuch", "x"], "image not known"),
])
def test_image_errors_are_one_line(podpy, busybox, args, msg):
    res = podpy(*args, check=False)
    assert res.returncode in (1, 125)
    assert msg in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_import_of_garbage_keeps_nothing(new_podpy, tmp_path):
    p = new_podpy()
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive at all" * 100)
    res = p("import", junk, "junk", check=False)
    assert res.returncode == 125 and len(res.stderr.strip().splitlines()) == 1
    assert p("images", "-q").stdout == ""
    store = p.data_home / "podpy"
    assert not list((store / "tmp").iterdir()) if (store / "tmp").exists() else True
    assert not list((store / "layers").iterdir()) if (store / "layers").exists() else True


def test_import_from_url_history_and_prune(new_podpy, image_tar):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(image_tar.parent))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        p = new_podpy()
        url = f"http://127.0.0.1:{server.server_address[1]}/{image_tar.name}"
        printed = p("import", "-m", "from the web", url, "webimg").stdout.strip()
        assert printed.startswith("sha256:") and len(printed) == 71
        image_id = printed[7:]
        res = p("import", f"http://127.0.0.1:{server.server_address[1]}/missing.tar", "x", check=False)
        assert res.returncode == 125 and "cannot import" in res.stderr
    finally:
        server.shutdown()
        server.server_close()
    hist = json.loads(p("image", "history", "--format", "json", "webimg").stdout)
    assert len(hist) == 1 and hist[0]["comment"] == "from the web" and "ADD file:" in hist[0]["CreatedBy"]
    table = p("history", "webimg").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "CREATED", "CREATED"] and table[1].startswith(image_id[:12])
    # prune: a dangling image goes, a named one stays unless -a, a used one always stays.
    p("tag", "webimg", "second")
    p("rmi", "webimg")
    p("create", "--name", "user", "second", "true")
    assert p("image", "prune", "-f").stdout == ""
    assert p("image", "prune", "-af").stdout == ""   # in use by "user"
    p("rm", "user")
    # without -f it asks, as podman does: a no (or no answer) removes nothing
    asked = p("image", "prune", "-a", input="n\n")
    assert asked.stdout == ("WARNING! This command removes all images without at least one container associated "
                            "with them.\nAre you sure you want to continue? [y/N] ")
    res = p("image", "prune", input="", check=False)
    assert (res.returncode, res.stderr.strip()) == (125, "Error: EOF")
    assert p("images", "-q").stdout.strip() == image_id[:12]
    assert p("image", "prune", "-a", input="y\n").stdout.endswith("[y/N] " + image_id + "\n")
    assert p("images", "-q").stdout == ""
