"""Signatures made with the real gpg and checked with the real gpgv (podpy/registry/signatures.py),
registries.d's lookaside locations, and `image trust set/show`'s file handling (trust.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from podpy.registry import policy as pol
from podpy.registry import signatures as sigs
from podpy.registry import trust
from podpy.registry.policy import SignatureRejected

if shutil.which("gpg") is None or shutil.which("gpgv") is None:
    pytest.skip("gpg and gpgv are needed (Debian's gnupg; packaging/setup.sh installs it)", allow_module_level=True)

MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


def _gpg(home: Path, *args: str) -> bytes:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", *args], check=True,
                          capture_output=True).stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Two throwaway keys in a GnuPG home of their own: exported (binary and armored) as files."""
    root = tmp_path_factory.mktemp("gpg")
    home = root / "home"
    home.mkdir(mode=0o700)
    out: dict[str, Path] = {"home": home}
    for who in ("one", "two"):
        _gpg(home, "--passphrase", "", "--quick-gen-key", f"{who.title()} <{who}@example.com>", "ed25519",
             "sign", "never")
        (root / f"{who}.gpg").write_bytes(_gpg(home, "--export", f"{who}@example.com"))
        (root / f"{who}.asc").write_bytes(_gpg(home, "--export", "--armor", f"{who}@example.com"))
        out[who] = root / f"{who}.gpg"
        out[f"{who}-asc"] = root / f"{who}.asc"
    old = os.environ.get("GNUPGHOME")
    os.environ["GNUPGHOME"] = str(home)
    yield out
    if old is None:
        del os.environ["GNUPGHOME"]
    else:
        os.environ["GNUPGHOME"] = old
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def signed_by(**key: object) -> pol.Requirement:
    return pol.parse(json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys", **key}]}).encode()).default[0]


def test_a_signature_round_trips_through_gpg_and_gpgv(keys: dict[str, Path]) -> None:
    payload = sigs.make_payload("r.io/app:1", DIGEST, "podpy test")
    doc = json.loads(payload)
    assert doc["critical"] == {"identity": {"docker-reference": "r.io/app:1"},
                               "image": {"docker-manifest-digest": DIGEST}, "type": "atomic container signature"}
    assert doc["optional"]["creator"] == "podpy test"
    sig = sigs.sign(payload, "one@example.com")
    with sigs.GpgVerifier() as verify:
        for req in (signed_by(keyPath=str(keys["one"])), signed_by(keyPath=str(keys["one-asc"])),
                    signed_by(keyPaths=[str(keys["two"]), str(keys["one-asc"])]),
                    signed_by(keyData=base64.b64encode(keys["one-asc"].read_bytes()).decode())):
            assert verify(sig, req) == pol.Verified("r.io/app:1", DIGEST)


def test_a_signature_by_another_key_or_altered_is_rejected(keys: dict[str, Path]) -> None:
    sig = sigs.sign(sigs.make_payload("r.io/app:1", DIGEST, "t"), "one@example.com")
    with sigs.GpgVerifier() as verify:
        with pytest.raises(SignatureRejected, match="^Invalid GPG signature: signed by key [0-9A-F]+, which is not "
                                                    "among the policy's keys$"):
            verify(sig, signed_by(keyPath=str(keys["two"])))
        # an uncompressed signature, so that the payload can be changed in place
        plain = subprocess.run(["gpg", "--batch", "--compress-algo", "none", "--sign", "--local-user",
                                "one@example.com", "--output", "-"], input=sigs.make_payload("r.io/app:1", DIGEST, "t"),
                               check=True, capture_output=True).stdout
        assert verify(plain, signed_by(keyPath=str(keys["one"]))).docker_reference == "r.io/app:1"
        altered = plain.replace(b"r.io/app:1", b"r.io/app:2")
        assert altered != plain
        with pytest.raises(SignatureRejected, match="^Invalid GPG signature: bad signature"):
            verify(altered, signed_by(keyPath=str(keys["one"])))
        with pytest.raises(SignatureRejected, match="^No public keys imported$"):
            verify(sig, signed_by(keyData=""))


def test_an_unknown_signing_key_is_named(keys: dict[str, Path]) -> None:
    with pytest.raises(sigs.SignatureError, match='^key "nobody@example.com" not found$'):
        sigs.sign(b"{}", "nobody@example.com")


def test_payload_shape_is_checked() -> None:
    good = json.loads(sigs.make_payload("r.io/a:1", DIGEST, "t"))
    assert sigs.parse_payload(json.dumps(good).encode()) == pol.Verified("r.io/a:1", DIGEST)
    for bad, words in ((dict(good, critical=dict(good["critical"], extra=1)), "exactly type, image and identity"),
                       (dict(good, critical=dict(good["critical"], type="x")), "Unrecognized signature type x"),
                       ({"optional": {}}, '"critical" is missing')):
        with pytest.raises(SignatureRejected, match=words):
            sigs.parse_payload(json.dumps(bad).encode())


def test_the_whole_check_with_real_signatures(keys: dict[str, Path]) -> None:
    sig = sigs.sign(sigs.make_payload("r.io/app:1", DIGEST, "t"), "one@example.com")
    policy = pol.parse(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        "r.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keys["one"])}],
        "r.io/two": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keys["two"])}]}}}).encode())
    with sigs.GpgVerifier() as verify:
        pol.check(policy, pol.normalized("r.io/app:1"), MANIFEST, lambda: [sig], verify)
        with pytest.raises(pol.ImageRejected, match="Signature for identity r.io/app:1 is not accepted"):
            pol.check(policy, pol.normalized("r.io/app:2"), MANIFEST, lambda: [sig], verify)
        with pytest.raises(pol.ImageRejected, match="Invalid GPG signature: signed by key"):
            pol.check(policy, pol.normalized("r.io/two/app:1"), MANIFEST, lambda: [sig], verify)


# ------------------------------------------------------------ registries.d --


def test_registries_d_lookaside_locations(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("default-docker:\n  lookaside: https://s.example.com/sigs\n"
                                     "docker:\n  r.io/team:\n    sigstore: file:///old\n    sigstore-staging: "
                                     "file:///old-staging\n")
    (tmp_path / "b.yaml").write_text("docker:\n  r.io/team/app:1:\n    lookaside: file:///exact\n")
    (tmp_path / "ignored.yml").write_text("not: [yaml")
    conf = sigs.load_registries_d(str(tmp_path))
    app = pol.normalized("r.io/team/app:1")
    assert conf.base_url(app, write=False) == "file:///exact"
    assert conf.base_url(pol.normalized("r.io/team/other:1"), write=False) == "file:///old"
    assert conf.base_url(pol.normalized("r.io/team/other:1"), write=True) == "file:///old-staging"
    assert conf.base_url(pol.normalized("q.io/x:1"), write=True) == "https://s.example.com/sigs"
    assert sigs.signature_dir("file:///old", app, DIGEST) == f"file:///old/team/app@sha256={DIGEST[7:]}"


def test_a_namespace_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("docker:\n  r.io:\n    lookaside: file:///a\n")
    (tmp_path / "b.yaml").write_text("docker:\n  r.io:\n    lookaside: file:///b\n")
    with pytest.raises(sigs.SignatureError, match='"docker" namespace "r.io" defined both in'):
        sigs.load_registries_d(str(tmp_path))


def test_nothing_configured_uses_the_users_sigstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    conf = sigs.load_registries_d(str(tmp_path / "none"))
    want = "file:///var/lib/containers/sigstore" if os.geteuid() == 0 else \
        f"file://{tmp_path}/.local/share/containers/sigstore"
    assert conf.base_url(pol.normalized("r.io/a:1"), write=True) == want


def test_signatures_are_read_in_order_until_one_is_missing(tmp_path: Path) -> None:
    ref = pol.normalized("r.io/ns/a:1")
    for n, data in ((1, b"one"), (2, b"two"), (4, b"after a gap")):
        path = Path(sigs.signature_dir(str(tmp_path), ref, DIGEST)) / f"signature-{n}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    conf = sigs.RegistriesD(sigs.Namespace(lookaside=f"file://{tmp_path}"), {})
    assert sigs.read_signatures(conf, ref, DIGEST) == [b"one", b"two"]


def test_store_adds_or_replaces(tmp_path: Path) -> None:
    ref = pol.normalized("r.io/ns/a:1")
    first = sigs.store(str(tmp_path), ref, DIGEST, b"1", replace=False)
    second = sigs.store(str(tmp_path), ref, DIGEST, b"2", replace=False)
    assert (Path(first).name, Path(second).name) == ("signature-1", "signature-2")
    assert Path(first).parent == tmp_path / "ns" / f"a@sha256={DIGEST[7:]}"
    sigs.store(str(tmp_path), ref, DIGEST, b"pushed", replace=True)
    assert sorted(p.name for p in Path(first).parent.iterdir()) == ["signature-1"]
    assert Path(first).read_bytes() == b"pushed"
    with pytest.raises(sigs.SignatureError, match="^writing to https://x is not supported"):
        sigs.local_path("https://x")


# ------------------------------------------------------------------- trust --


def test_trust_set_writes_as_podman_writes(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"default": [{"type": "insecureAcceptAnything"}], "transports": {"atomic": {"b": '
                    '[{"type": "reject"}]}}}\n')
    trust.set_trust(str(path), "r.io/x", "signedBy", ["k1.gpg", "k2.gpg"])
    trust.set_trust(str(path), "b", "accept", [])
    assert path.read_text() == json.dumps({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"atomic": {"b": [{"type": "insecureAcceptAnything"}]},
                       "docker": {"r.io/x": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "k1.gpg"},
                                             {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "k2.gpg"}]}}},
        indent=4)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["policy.json"]


@pytest.mark.parametrize("scope, kind, keys_, words", [
    ("x", "bogus", [], "invalid choice: bogus (choose from 'accept', 'reject', 'signedBy', 'sigstoreSigned')"),
    ("x", "accept", ["k"], "1 public keys unexpectedly provided for trust type accept"),
    ("x", "signedBy", [], "at least one public key must be defined for type 'signedBy'"),
    ("Invalid!", "reject", [], "invalid image uri: Invalid!"),
    ("a@sha256:abc", "reject", [], 'invalid image uri: a@sha256:abc: parse "http://a@sha256:abc": invalid port '
                                   '":abc" after host'),
])
def test_trust_set_refusals(tmp_path: Path, scope: str, kind: str, keys_: list[str], words: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"default": [{"type": "reject"}]}')
    with pytest.raises(Exception) as exc:
        trust.set_trust(str(path), scope, kind, keys_)
    assert str(exc.value) == words
    assert path.read_text() == '{"default": [{"type": "reject"}]}'


def test_trust_set_needs_a_default_first(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="^default trust policy must be set$"):
        trust.set_trust(str(tmp_path / "new.json"), "r.io", "reject", [])
    assert not (tmp_path / "new.json").exists()
    trust.set_trust(str(tmp_path / "new.json"), "default", "reject", [])
    assert json.loads((tmp_path / "new.json").read_text()) == {"default": [{"type": "reject"}]}


def test_trust_show_rows(keys: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        "z.io": [{"type": "sigstoreSigned", "keyPath": "/k"}],
        "r.io": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": [str(keys["one"]), str(keys["two-asc"])]}]}}}))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.yaml").write_text("docker:\n  r.io:\n    lookaside: file:///sigs\n")
    rows = trust.describe(str(path), str(tmp_path / "d"))
    assert [r.as_json() for r in rows] == [
        {"transport": "all", "name": "* (default)", "repo_name": "default", "type": "reject"},
        {"transport": "repository", "name": "r.io", "repo_name": "r.io", "sigstore": "file:///sigs",
         "type": "signed", "gpg_id": "one@example.com, two@example.com"},
        {"transport": "repository", "name": "z.io", "repo_name": "z.io", "type": "sigstoreSigned", "gpg_id": "N/A"}]


def test_signatures_are_read_over_http_until_a_404(tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    ref = pol.normalized("r.io/ns/a:1")
    where = Path(sigs.signature_dir(str(tmp_path), ref, DIGEST))
    where.mkdir(parents=True)
    (where / "signature-1").write_bytes(b"first")
    (where / "signature-2").write_bytes(b"second")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        conf = sigs.RegistriesD(None, {"r.io/ns": sigs.Namespace(lookaside=base)})
        assert sigs.read_signatures(conf, ref, DIGEST) == [b"first", b"second"]
        assert sigs.read_signatures(conf, pol.normalized("r.io/ns/none:1"), DIGEST) == []
    finally:
        server.shutdown()
        server.server_close()
