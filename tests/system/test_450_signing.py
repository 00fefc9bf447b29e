"""Image signatures and the trust policy: push --sign-by, image sign, pulls the policy accepts or
refuses (with podman's words, compared with podman's own on the same files), image trust set/show."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import VARIANTS, remove_tree, run_command
from registry import oci_layout, push, serving, tar_of

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None or shutil.which("gpgv") is None,
                                reason="gpg and gpgv are needed (gnupg; packaging/setup.sh installs it)")


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        oci_layout(work / "unsigned", [image_tar.read_bytes(), tar_of({"unsigned": b"1\n"})], ["sh"])
        push(work / "unsigned", f"{reg.host}/plain/app:1")
        yield reg


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A GnuPG home with two throwaway keys, each exported to a file."""
    root = tmp_path_factory.mktemp("gpg")
    home = root / "gnupg"
    home.mkdir(mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    out = {"home": home}
    for who in ("one", "two"):
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{who}@example.com", "ed25519",
                        "sign", "never"], env=env, check=True, capture_output=True)
        exported = subprocess.run(["gpg", "--batch", "--export", f"{who}@example.com"], env=env, check=True,
                                  capture_output=True).stdout
        (root / f"{who}.gpg").write_bytes(exported)
        out[who] = root / f"{who}.gpg"
    yield out
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


class Site:
    """A HOME with registries.d's lookaside (read and written: no staging) and a policy.json."""

    def __init__(self, root: Path, keys: dict) -> None:
        self.home = root / "home"
        self.sigs = root / "sigs"
        self.sigs.mkdir(parents=True)
        conf = self.home / ".config" / "containers"
        (conf / "registries.d").mkdir(parents=True)
        (conf / "registries.d" / "default.yaml").write_text(f"default-docker:\n  lookaside: file://{self.sigs}\n")
        self.policy = conf / "policy.json"
        self.keys = keys
        self.env = {"HOME": str(self.home), "GNUPGHOME": str(keys["home"])}

    def require(self, host: str, key: str | None) -> None:
        """default: reject; host: signed by key (None: rejected too, by the scope itself)."""
        req = ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(self.keys[key])} if key
               else {"type": "reject"})
        self.policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                           "transports": {"docker": {host: [req]}}}))


def _insecure(p, host: str) -> None:
    conf = p.config_home / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')


def _error(res) -> str:
    lines = res.stderr.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.mark.parametrize("variant", VARIANTS)
def test_push_sign_by_and_the_pulls_the_policy_decides(new_podpy, registry, keys, image_tar, tmp_path, variant):
    site = Site(tmp_path, keys)
    p = new_podpy(variant=variant)
    p("import", image_tar, "busybox", timeout=300)
    res = p("push", "--tls-verify=false", "--sign-by", "one@example.com", "busybox",
            f"{registry.host}/signed/app:1", env=site.env)
    assert "Signing manifest using simple signing" in res.stderr
    [sig] = list(site.sigs.glob("signed/app@sha256=*/signature-*"))
    assert sig.name == "signature-1"

    q = new_podpy(variant=variant)   # an empty store: a refused pull must leave it empty
    site.require(registry.host, "one")
    assert len(q("pull", "-q", "--tls-verify=false", f"{registry.host}/signed/app:1", env=site.env)
               .stdout.strip()) == 64
    q("rmi", "-a")

    site.require(registry.host, "two")
    res = q("pull", "--tls-verify=false", f"{registry.host}/signed/app:1", env=site.env, check=False)
    assert res.returncode == 125
    assert _error(res).startswith("Error: Source image rejected: Invalid GPG signature: signed by key ")
    assert _error(res).endswith(", which is not among the policy's keys")

    site.require(registry.host, "one")
    res = q("pull", "--tls-verify=false", f"{registry.host}/plain/app:1", env=site.env, check=False)
    assert (res.returncode, _error(res)) == (
        125, "Error: Source image rejected: A signature was required, but no signature exists")

    site.require(registry.host, None)
    res = q("pull", "--tls-verify=false", f"{registry.host}/signed/app:1", env=site.env, check=False)
    assert (res.returncode, _error(res)) == (
        125, f"Error: Source image rejected: Running image docker://{registry.host}/signed/app:1 is rejected by "
             "policy.")
    # run pulls through the same check
    res = q("run", "--rm", "--tls-verify=false", f"{registry.host}/signed/app:1", "true", env=site.env, check=False)
    assert res.returncode == 125 and "is rejected by policy." in _error(res)
    # and so does build's FROM
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(f"FROM {registry.host}/signed/app:1\nRUN true\n")
    res = q("build", "--tls-verify=false", ctx, env=site.env, check=False)
    assert res.returncode == 125 and "is rejected by policy." in _error(res)
    assert q("images", "-q").stdout == ""

    # --signature-policy: another file than the user's
    other = tmp_path / "accept.json"
    other.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    assert len(q("pull", "-q", "--tls-verify=false", "--signature-policy", other,
                 f"{registry.host}/plain/app:1", env=site.env).stdout.strip()) == 64
    q("create", "--tls-verify=false", "--signature-policy", other, f"{registry.host}/signed/app:1", "true",
      env=site.env)


def test_a_key_not_in_the_keyring_stops_the_push_before_it_sends(new_podpy, registry, keys, image_tar, tmp_path):
    site = Site(tmp_path, keys)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    res = p("push", "--tls-verify=false", "--sign-by", "nobody@example.com", "busybox",
            f"{registry.host}/never/app:1", env=site.env, check=False)
    assert (res.returncode, _error(res)) == (125, 'Error: key "nobody@example.com" not found')
    assert "Copying blob" not in res.stderr
    res = p("pull", "--tls-verify=false", f"{registry.host}/never/app:1", check=False)
    assert res.returncode == 125 and "manifest unknown" in _error(res)


def test_image_sign(new_podpy, registry, keys, tmp_path):
    site = Site(tmp_path, keys)
    p = new_podpy()
    _insecure(p, registry.host)
    out = tmp_path / "out"
    out.mkdir()
    name = f"docker://{registry.host}/plain/app:1"
    for _ in range(2):
        p("image", "sign", "--sign-by", "two@example.com", "-d", out, name, env=site.env)
    assert sorted(s.name for s in out.glob("plain/app@sha256=*/signature-*")) == ["signature-1", "signature-2"]
    payload = subprocess.run(["gpg", "--batch", "--decrypt", str(next(out.glob("plain/app@*/signature-1")))],
                             env=dict(os.environ, **site.env), capture_output=True, check=True).stdout
    critical = json.loads(payload)["critical"]
    assert critical["identity"] == {"docker-reference": f"{registry.host}/plain/app:1"}
    assert critical["type"] == "atomic container signature"

    # without --directory: the lookaside of registries.d, where a pull finds it
    p("image", "sign", "--sign-by", "two@example.com", name, env=site.env)
    site.require(registry.host, "two")
    assert len(p("pull", "-q", f"{registry.host}/plain/app:1", env=site.env).stdout.strip()) == 64

    for args, words in (([name], "Error: please provide an identity"),
                        (["--sign-by", "two@example.com", f"{registry.host}/plain/app:1"],
                         f'Error: parsing image name: Invalid image name "{registry.host}/plain/app:1", unknown '
                         f'transport "{registry.host.split(":")[0]}"'),
                        (["--sign-by", "two@example.com", "--all", name],
                         f"Error: {name} is not a multi-architecture image (manifest type "
                         "application/vnd.oci.image.manifest.v1+json)")):
        res = p("image", "sign", *args, env=site.env, check=False)
        assert (res.returncode, _error(res)) == (125, words)


# ------------------------------------------------------------- with podman --


@pytest.fixture(scope="module")
def podman_home(tmp_path_factory):
    """A private store for podman, and a directory with gpg2 (podman's name for gpg, which
    Debian does not ship) so that its `image trust show` finds the keys' ids as podpy does."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: nothing to compare with")
    home = tmp_path_factory.mktemp("podman")
    conf = home / "config" / "containers"
    conf.mkdir(parents=True)
    (conf / "storage.conf").write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{home}/storage"\n'
                                       f'runroot = "{home}/run"\n')
    (home / "bin").mkdir()
    (home / "bin" / "gpg2").symlink_to(shutil.which("gpg"))
    yield home
    run_command(["podman", "unshare", "rm", "-rf", str(home / "storage")],
                env=dict(os.environ, XDG_CONFIG_HOME=str(home / "config")), check=False)
    remove_tree(home)


def _podman(home: Path, site_env: dict, *args, check=False):
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               PATH=f"{home / 'bin'}:{os.environ['PATH']}", **site_env)
    return run_command(["podman", *map(str, args)], env=env, check=check, timeout=180, variant="podman")


def test_the_same_verdicts_and_words_as_podman(new_podpy, registry, keys, image_tar, tmp_path, podman_home):
    site = Site(tmp_path, keys)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    p("push", "--tls-verify=false", "--sign-by", "one@example.com", "busybox", f"{registry.host}/both/app:1",
      env=site.env)
    q = new_podpy()
    cases = [("one", "both/app:1"), ("one", "plain/app:1"), (None, "both/app:1")]
    for key, image in cases:
        site.require(registry.host, key)
        ours = q("pull", "--tls-verify=false", f"{registry.host}/{image}", env=site.env, check=False)
        theirs = _podman(podman_home, site.env, "pull", "--tls-verify=false", f"{registry.host}/{image}")
        assert ours.returncode == theirs.returncode, (key, image, theirs.stderr)
        if theirs.returncode:
            assert _error(ours) == _error(theirs)
    # podman's signature verifies in podpy too (podman checks the policy when it reads the image
    # from its own store as well: the site's policy accepts anything meanwhile)
    site.policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    _podman(podman_home, site.env, "pull", "--tls-verify=false", f"{registry.host}/plain/app:1", check=True)
    _podman(podman_home, site.env, "push", "--tls-verify=false", "--sign-by", "two@example.com",
            f"{registry.host}/plain/app:1", f"{registry.host}/podman/app:1", check=True)
    site.require(registry.host, "two")
    q("rmi", "-a", check=False)
    assert len(q("pull", "-q", "--tls-verify=false", f"{registry.host}/podman/app:1", env=site.env)
               .stdout.strip()) == 64


def test_image_trust_set_and_show_as_podman(new_podpy, keys, tmp_path, podman_home):
    p = new_podpy()
    env = {"HOME": str(tmp_path / "home"), "GNUPGHOME": str(keys["home"])}
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "a.yaml").write_text("default-docker:\n  lookaside: https://sigs.example.com/\ndocker:\n"
                                 "  r.example.com/team:\n    sigstore: file:///srv/sigs\n")
    start = '{"default": [{"type": "insecureAcceptAnything"}], "transports": {"atomic": {"b": [{"type": "reject"}]}}}\n'
    steps = [["-t", "signedBy", "-f", keys["one"], "-f", keys["two"], "r.example.com/team/app"],
             ["-t", "reject", "docker.io"], ["-t", "accept", "b"], ["-t", "reject", "default"],
             ["-t", "accept", "-f", keys["one"], "q.io"], ["-t", "signedBy", "q.io"], ["-t", "reject", "Bad!"],
             ["-t", "bogus", "q.io"]]
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    ours.write_text(start)
    theirs.write_text(start)
    for step in steps:
        a = p("image", "trust", "set", "--policypath", ours, *step, env=env, check=False)
        b = _podman(podman_home, env, "image", "trust", "set", "--policypath", theirs, *step)
        assert a.returncode == b.returncode, (step, a.stderr, b.stderr)
        assert ours.read_text() == theirs.read_text(), step
    for flags in ([], ["-n"], ["--json"], ["--raw"]):
        a = p("image", "trust", "show", "--policypath", ours, "--registrypath", regd, *flags, env=env)
        b = _podman(podman_home, env, "image", "trust", "show", "--policypath", theirs, "--registrypath", regd,
                    *flags, check=True)
        assert a.stdout == b.stdout, flags
    shown = json.loads(p("image", "trust", "show", "-j", "--policypath", ours, "--registrypath", regd,
                         env=env).stdout)
    assert {"transport": "repository", "name": "r.example.com/team/app", "repo_name": "r.example.com/team/app",
            "sigstore": "file:///srv/sigs", "type": "signed", "gpg_id": "one@example.com"} in shown


def test_manifest_push_sign_by_signs_the_list_and_its_images(new_podpy, registry, keys, image_tar, tmp_path):
    site = Site(tmp_path, keys)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    p("manifest", "create", "mylist")
    p("manifest", "add", "mylist", "busybox")
    res = p("manifest", "push", "--tls-verify=false", "--sign-by", "one@example.com", "mylist",
            f"{registry.host}/list/app:1", env=site.env)
    assert "Signing manifest using simple signing" in res.stderr
    assert len(list(site.sigs.glob("list/app@sha256=*/signature-1"))) == 2   # the list's and its image's
    q = new_podpy()
    site.require(registry.host, "one")
    # the pull takes the list's image for this machine: its own signature is what is checked
    assert len(q("pull", "-q", "--tls-verify=false", f"{registry.host}/list/app:1", env=site.env)
               .stdout.strip()) == 64
