"""`pull`: a registry image into the store, layers fetched and applied as they stream.

Order: read the trust policy (containers-policy.json: a bad one stops the pull
first), resolve the name (short names through the search registries), fetch
the manifest (choosing the platform from an index), check it against the policy
(its signatures, when the policy wants them: nothing is fetched for a rejected
image), fetch and check the config,
then every missing layer is downloaded and applied at once, in parallel for the
overlay drivers (their layers are independent directories; as many at once as
there are CPUs, see parallel_layers) and in order for vfs (each layer starts
as a copy of its parent). Each layer's compressed digest
is checked as it streams and its uncompressed digest against the config before
it is committed, so a bad blob keeps nothing.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

from storage import reference, shapes
from storage.images import Image
from storage.store import chain_id

from ..errors import EngineError, InvalidArgument, NoSuchImage, PodpyError, translate
from .imagestore import apply_options, host_arch
from .context import Runtime
from .reconcile import reconcile
from .retries import retry_plan   # also imported from here by cli/images.py

POLICIES = ("always", "missing", "never", "newer")


@dataclass(frozen=True)
class PullOptions:
    name: str
    os: Optional[str] = None
    arch: Optional[str] = None
    variant: Optional[str] = None
    tls_verify: Optional[bool] = None     # None: as registries.conf says
    creds: Optional[str] = None           # "user:password"
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None       # --authfile: look credentials up there only
    platform: Optional[str] = None        # OS/ARCH[/VARIANT]: takes the place of os and arch
    retry: Optional[str] = None           # --retry N: attempts after a failed connection (none)
    retry_delay: Optional[str] = None     # --retry-delay DURATION: between them (2s, doubling)
    signature_policy: Optional[str] = None  # --signature-policy: the policy.json to check the image against
    # --decryption-key KEY[:PASSPHRASE] values for encrypted layers, or keys already read from them
    # (decryption_keys(): a build reads them once, before its first step)
    decryption_keys: tuple[Any, ...] = ()


def unreachable(exc: BaseException) -> bool:
    """Whether a pull failed for want of a connection (worth trying again), not an answer."""
    seen: Optional[BaseException] = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, (ConnectionError, TimeoutError)) or type(seen).__name__ in ("URLError", "gaierror",
                                                                                       "TransientError"):
            return True
        if "cannot talk to" in str(seen):   # the registry client's own words for a lost connection
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def with_retries(attempt: Callable[[], Any], retry: Optional[str], retry_delay: Optional[str],
                 warn: Callable[[str], None]) -> Any:
    """attempt() again, up to --retry times, while it fails for want of a connection: after
    --retry-delay, or 2s doubling each time (podman's back-off), with podman's warning."""
    import time

    count, fixed = retry_plan(retry, retry_delay)
    done = 0
    while True:
        try:
            return attempt()
        except PodpyError as exc:
            if done >= count or not unreachable(exc):
                raise
            delay = fixed if fixed is not None else 2.0 * 2 ** done
            done += 1
            warn(f"Failed, retrying in {delay:g}s ... ({done}/{count}). Error: {exc}")
            time.sleep(delay)


def platform_of(value: Optional[str], os_: Optional[str], arch: Optional[str],
                variant: Optional[str]) -> tuple[str, str, Optional[str]]:
    """--platform os[/arch[/variant]] or --os/--arch/--variant (not both, in podman's words);
    defaults are the host's."""
    if value and (os_ or arch):
        raise InvalidArgument("--platform option can not be specified with --arch or --os")
    if value:
        parts = value.split("/")
        if len(parts) > 3 or not all(parts):
            raise InvalidArgument(f"invalid platform {value!r}: expected OS/ARCH[/VARIANT]")
        os_ = parts[0]
        arch = parts[1] if len(parts) > 1 else arch
        variant = parts[2] if len(parts) == 3 else variant
    return os_ or "linux", arch or host_arch(), variant


# progress(label, total bytes) -> advance(n): how a front end shows each layer's download.
Progress = Callable[[str, int], Callable[[int], None]]
# gate(reference, image manifest, registry client, repository): raises when the trust policy
# does not accept the image (the client reads its sigstore signatures from the repository)
Gate = Callable[[reference.Reference, Any, Any, str], None]


def trust_gate(policy_file: Optional[str]) -> Optional[Gate]:
    """The trust policy (containers-policy.json(5)) as a check of each image a registry pull
    resolves, read before anything is fetched (a bad policy stops the pull at once); None when
    it accepts anything from anywhere (no signatures to look up)."""
    from ..registry import policy

    pol = policy.load(policy.policy_path(policy_file))
    if not pol.transports.get("docker") and all(r.type == "insecureAcceptAnything" for r in pol.default):
        return None

    def gate(ref: reference.Reference, manifest: Any, client: Any, repo: str) -> None:
        if pol.accepts_anything(ref):
            return
        from ..registry import signatures

        lookaside = signatures.load_registries_d()
        sigstore = None
        if any(r.type == "sigstoreSigned" for r in pol.for_docker(ref)) and lookaside.use_sigstore_attachments(ref):
            from ..registry import attachments
            from ..registry.sigstore import verify_for

            sigstore = (lambda: attachments.read(client, repo, manifest.digest), verify_for)
        with signatures.GpgVerifier() as verify:
            policy.check(pol, ref, manifest.raw,
                         lambda: signatures.read_signatures(lookaside, ref, manifest.digest), verify, sigstore)

    return gate


def pull(rt: Runtime, o: PullOptions, report: Callable[[str], None],
         platform: tuple[str, str, Optional[str]], progress: Optional[Progress] = None) -> Image:
    from storage.transports.registry import ManifestUnknownError, RegistryError

    from ..registry.conf import load
    from . import transports

    t = transports.parse(o.name)
    keys = decryption_keys(o.decryption_keys)
    if t is not None and t.transport == "docker":
        o = replace(o, name=transports.registry_name(t))
    elif t is not None:  # docker-archive:, oci-archive:, oci:, dir:, containers-storage:
        return transports.pull(rt, t, report, keys)[0]
    given_credentials(o)
    gate = trust_gate(o.signature_policy)
    conf = load(rt.cfg.config_dir)
    try:
        # Aliases keep the tag or digest given: busybox:1.36 stays 1.36.
        cands = reference.pull_candidates(o.name, conf.short_names())
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    reconcile(rt)
    errors: list[str] = []
    for ref in cands:
        report(f"Trying to pull {ref}...")
        try:
            image = _pull_one(rt, ref, o, conf, report, platform, progress, gate, keys)
            from ..events import emit

            emit(rt.cfg.runroot, "image", "pull", image.id, str(ref))
            return image
        except ManifestUnknownError as exc:
            errors.append(str(exc))
            if len(cands) == 1:
                raise NoSuchImage(str(exc)) from exc
        except RegistryError as exc:
            if len(cands) == 1:
                raise translate(exc) from exc
            errors.append(str(exc))
    raise NoSuchImage(f"pulling {o.name}: " + "; ".join(errors))


def pull_all_tags(rt: Runtime, o: PullOptions, report: Callable[[str], None],
                  platform: tuple[str, str, Optional[str]], progress: Optional[Progress] = None) -> list[Image]:
    """`pull --all-tags`: every tag of the name's repository (a tag or digest given is dropped,
    as podman drops it), pulled in the registry's order. A short name's candidates are tried
    in turn until one's registry lists the repository."""
    import dataclasses

    from storage.transports.registry import ManifestUnknownError, RegistryError

    from ..registry.conf import load

    given_credentials(o)
    conf = load(rt.cfg.config_dir)
    try:
        cands = reference.pull_candidates(o.name, conf.short_names())
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    errors: list[str] = []
    for ref in cands:
        try:
            tags = _list_tags(ref, o, conf)
        except (ManifestUnknownError, RegistryError) as exc:
            if len(cands) == 1:
                raise (NoSuchImage(str(exc)) if isinstance(exc, ManifestUnknownError) else translate(exc)) from exc
            errors.append(str(exc))
            continue
        return [pull(rt, dataclasses.replace(o, name=f"{ref.repository}:{tag}"), report, platform, progress)
                for tag in tags]
    raise NoSuchImage(f"pulling {o.name}: " + "; ".join(errors))


def _list_tags(ref: reference.Reference, o: PullOptions, conf: Any) -> list[str]:
    """The tags of ref's repository, from its mirrors first, then its registry."""
    from storage.transports.registry import RegistryError

    eps = endpoints(ref, conf)
    for i, ep in enumerate(eps):
        try:
            with _client(ep, o) as client:
                return list(client.list_tags(ep.repository))
        except RegistryError:
            if i == len(eps) - 1:
                raise
    return []


@dataclass(frozen=True)
class Endpoint:
    """Where to fetch one name from: a mirror, or the registry itself."""

    host: str
    repository: str
    insecure: bool
    mirror: bool


def _split(location: str) -> tuple[str, str]:
    host, _, path = location.partition("/")
    return host, path


def endpoints(ref: reference.Reference, conf: Any) -> list[Endpoint]:
    """Mirrors first (registries.conf, or docker's daemon.json for Docker Hub), then the registry."""
    name = ref.repository
    entry = conf.find(name)
    if entry is not None and entry.blocked:
        raise InvalidArgument(f"registry {ref.domain} is blocked in registries.conf")
    out: list[Endpoint] = []

    def rewrite(location: str) -> tuple[str, str]:
        rest = name[len(entry.prefix):].lstrip("/") if entry is not None else ref.path
        host, base = _split(location)
        return host, "/".join(p for p in (base, rest) if p)

    mirrors = list(entry.mirrors) if entry is not None else []
    if not mirrors and ref.domain == reference.DEFAULT_REGISTRY:
        mirrors = _daemon_json_mirrors()
    for m in mirrors:
        host, repo = rewrite(m.location) if entry is not None else (_split(m.location)[0], ref.path)
        out.append(Endpoint(host, repo, m.insecure, True))
    if entry is not None:
        host, repo = rewrite(entry.location)
        out.append(Endpoint(host, repo, entry.insecure, False))
    else:
        out.append(Endpoint(ref.domain, ref.path, False, False))
    return out


def _daemon_json_mirrors() -> list[Any]:
    """docker's "registry-mirrors" ("https://host[:port]" URLs) for Docker Hub."""
    from ..registry.conf import Mirror

    for path in (os.path.expanduser("~/.config/docker/daemon.json"), "/etc/docker/daemon.json"):
        try:
            with open(path, encoding="utf-8") as f:
                urls = json.load(f).get("registry-mirrors") or []
        except (OSError, ValueError, AttributeError):
            continue
        out = []
        for url in urls:
            scheme, _, rest = str(url).partition("://")
            if rest:
                out.append(Mirror(rest.rstrip("/"), insecure=scheme == "http"))
        return out
    return []


def decryption_keys(specs: tuple[Any, ...]) -> list[Any]:
    """The private keys of --decryption-key, read and checked before anything is fetched (a
    value that is a key already read is kept)."""
    if not specs:
        return []
    from storage.ocicrypt import DecryptionError, load_keys

    try:
        return [k for spec in specs for k in (load_keys([spec]) if isinstance(spec, str) else [spec])]
    except DecryptionError as exc:
        raise InvalidArgument(str(exc)) from None


def given_credentials(o: PullOptions) -> Optional[tuple[str, str]]:
    """--creds USER:PASSWORD, checked before anything is fetched."""
    if not o.creds:
        return None
    user, sep, password = o.creds.partition(":")
    if not sep or not user:
        raise InvalidArgument("invalid --creds: expected USERNAME:PASSWORD")
    return user, password


def _client(ep: Endpoint, o: PullOptions) -> Any:
    from storage.transports.registry import RegistryClient, RegistryOptions

    from ..registry.authfile import credentials

    creds = given_credentials(o) or credentials(ep.host, ep.repository, [o.auth_file] if o.auth_file else None)
    tls_verify = (not ep.insecure) if o.tls_verify is None else o.tls_verify
    options = RegistryOptions(insecure=ep.insecure or not tls_verify, tls_verify=tls_verify,
                              cert_dir=o.cert_dir, credentials=creds)
    return RegistryClient(ep.host, options)


def _pull_one(rt: Runtime, ref: reference.Reference, o: PullOptions, conf: Any,
              report: Callable[[str], None], platform: tuple[str, str, Optional[str]],
              progress: Optional[Progress], gate: Optional[Gate] = None, keys: Optional[list[Any]] = None) -> Image:
    """Try each endpoint in turn; a mirror that fails falls back to the next, then the registry."""
    from storage.transports.registry import RegistryError

    eps = endpoints(ref, conf)
    for i, ep in enumerate(eps):
        try:
            with _client(ep, o) as client:
                return _fetch_image(rt, client, ep.repository, ref, report, platform, progress, gate, keys or [])
        except RegistryError as exc:
            if i == len(eps) - 1:
                raise
            report(f"Error pulling from mirror {ep.host}: {exc}; trying {eps[i + 1].host}")
    raise AssertionError("unreachable")


def _fetch_image(rt: Runtime, client: Any, repo: str, ref: reference.Reference,
                 report: Callable[[str], None], platform: tuple[str, str, Optional[str]],
                 progress: Optional[Progress], gate: Optional[Gate] = None, keys: Optional[list[Any]] = None) -> Image:
    manifest = client.resolve(repo, ref.digest or ref.tag or "latest", *platform)
    if gate is not None:   # before any blob is fetched: a rejected image leaves nothing behind
        gate(ref, manifest, client, repo)
    report("Getting image source signatures")
    with client.open_blob(repo, manifest.config.digest, manifest.config.size) as blob:
        config_raw = blob.read()
    try:
        config = shapes.image_config(config_raw, f"pulling {ref}: invalid image config")
    except shapes.ShapeError as exc:
        raise PodpyError(str(exc)) from None
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if len(diff_ids) != len(manifest.layers):
        raise PodpyError(f"pulling {ref}: the config lists {len(diff_ids)} layers, the manifest "
                         f"{len(manifest.layers)}")
    # Every encrypted layer's key is unwrapped before any blob is fetched: a missing or wrong key
    # stores nothing (and a layer already here is no way around the key).
    layer_keys = _layer_keys(manifest, keys or [])
    name = str(ref)
    existing = _existing(rt, config_raw)
    chains: list[str] = []
    parent: Optional[str] = None
    for d in diff_ids:
        parent = chain_id(parent, d)
        chains.append(parent)
    driver = rt.store.driver
    options = apply_options(rt)

    def fetch(i: int) -> None:
        desc = manifest.layers[i]
        short = desc.digest.split(":", 1)[-1][:12]
        if rt.store.has_layer(chains[i]):
            report(f"Copying blob {short} skipped: already exists")
            return
        report(f"Copying blob {short}")
        meter = _Meter(progress(short, desc.size)) if progress else None

        def opener() -> Any:  # runs in the user-namespace child: a connection of its own
            blob = client.fork_copy().open_blob(repo, desc.digest, desc.size)
            blob = meter.wrap(blob) if meter else blob
            if i in layer_keys:   # the HMAC and plain digest are checked at its end, before the commit
                from storage.ocicrypt import DecryptingReader

                blob = DecryptingReader(blob, layer_keys[i], f"layer {desc.digest}")
            return blob

        try:
            rt.store.apply_layer(opener, chains[i - 1] if i else None, options, expect_diff_id=diff_ids[i])
        finally:
            if meter:
                meter.close()

    if existing is not None:
        for desc in manifest.layers:
            report(f"Copying blob {desc.digest.split(':', 1)[-1][:12]} skipped: already exists")
    else:
        if driver.name == "vfs":
            for i in range(len(chains)):
                fetch(i)
        else:
            with ThreadPoolExecutor(max_workers=parallel_layers(len(chains))) as pool:
                for f in [pool.submit(fetch, i) for i in range(len(chains))]:
                    f.result()
        report(f"Copying config {manifest.config.digest.split(':', 1)[-1][:12]}")
    report("Writing manifest to image destination")
    try:
        return rt.store.create_image(config_raw, chains, [name], manifest=_stored_manifest(manifest, layer_keys),
                                     digest=manifest.digest)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _layer_keys(manifest: Any, keys: list[Any]) -> dict[int, Any]:
    """The key of each encrypted layer (by its index), unwrapped with --decryption-key's keys."""
    from storage.ocicrypt import DecryptionError, is_encrypted, unwrap

    out = {}
    for i, desc in enumerate(manifest.layers):
        if is_encrypted(desc.media_type):
            try:
                out[i] = unwrap(desc.digest, desc.annotations, keys)
            except DecryptionError as exc:
                raise EngineError(str(exc)) from None
    return out


def _stored_manifest(manifest: Any, layer_keys: dict[int, Any]) -> str:
    """The manifest kept with the image: the registry's, with decrypted layers described as
    they are stored (their plain media type and digest), as podman keeps it; its Digest stays
    the registry's."""
    if not layer_keys:
        return str(manifest.raw.decode())
    from storage.ocicrypt import plain_descriptor

    doc = json.loads(manifest.raw)
    doc["layers"] = [plain_descriptor(d, layer_keys[i]) if i in layer_keys else d
                     for i, d in enumerate(doc.get("layers") or [])]
    return json.dumps(doc, separators=(",", ":"))


def parallel_layers(layers: int) -> int:
    """How many layers to fetch and apply at once: one per CPU, at least 2, at most 4.

    Applying a layer is CPU work (decompressing, hashing, making files), and
    more layers at once than CPUs only share them out: with 4 layers on 2
    CPUs the base layer, which has most of the files and takes longest, ran
    at half speed while the others did. Layers start in order, so it gets a
    CPU of its own from the start. Cold pulls of the 4-layer benchmark image
    (bench/pull.py with a Debian base) on a 2-CPU machine, 11 each, alternating:
    median 6.3 s with 2 at once, 7.5 s with 4.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(layers, 4, max(2, cpus)))


class _Meter:
    """Byte counts from the child that downloads a layer, back to the front end's bar.

    The child (a fork) writes 8-byte counts into a pipe as it reads the blob; a
    thread here reads them until every write end is closed.
    """

    def __init__(self, advance: Callable[[int], None]) -> None:
        import threading

        self._r, self._w = os.pipe()
        self._advance = advance
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        import struct

        while True:
            data = os.read(self._r, 8)
            if len(data) < 8:
                return
            self._advance(struct.unpack("Q", data)[0])

    def wrap(self, blob: Any) -> Any:
        """In the child: a reader that counts what passes."""
        return _Counting(blob, self._w)

    def close(self) -> None:
        os.close(self._w)
        self._thread.join(timeout=5)
        os.close(self._r)


class _Counting:
    def __init__(self, inner: Any, fd: int) -> None:
        self._inner, self._fd, self._pending = inner, fd, 0

    def read(self, n: int = -1) -> bytes:
        import struct

        data = self._inner.read(n)
        self._pending += len(data)
        if self._pending >= 1 << 18 or not data:
            os.write(self._fd, struct.pack("Q", self._pending))
            self._pending = 0
        return bytes(data)

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> "_Counting":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _existing(rt: Runtime, config_raw: bytes) -> Optional[str]:
    import hashlib

    from storage import images as img

    image_id = hashlib.sha256(config_raw).hexdigest()
    return image_id if img.by_id(rt.db.conn, image_id) else None


def ensure_image(rt: Runtime, name: str, policy: str, report: Callable[[str], None],
                 platform: Optional[tuple[str, str, Optional[str]]] = None, tls_verify: Optional[bool] = None,
                 auth_file: Optional[str] = None, creds: Optional[str] = None,
                 cert_dir: Optional[str] = None, retry: Optional[str] = None, retry_delay: Optional[str] = None,
                 warn: Callable[[str], None] = lambda _line: None, signature_policy: Optional[str] = None) -> None:
    """`run --pull=POLICY` once the caller found the image missing (or of another platform than
    --platform's), or for always/newer (newer re-resolves the name; unchanged layers are not
    fetched again)."""
    if policy not in POLICIES:
        raise InvalidArgument(f"invalid --pull {policy!r}: use always, missing, never or newer")
    if policy != "never":
        given = PullOptions(name=name, tls_verify=tls_verify, auth_file=auth_file, creds=creds, cert_dir=cert_dir,
                            signature_policy=signature_policy)
        with_retries(lambda: pull(rt, given, report, platform or platform_of(None, None, None, None)),
                     retry, retry_delay, warn)


def ensure_transport_image(rt: Runtime, name: str, report: Callable[[str], None]) -> Optional[str]:
    """`run`/`create` of a transport reference (docker-archive:x.tar, oci:dir, ...): the image is
    copied from there whatever the pull policy, as podman does; the name (else the id) the
    container then uses. docker://NAME is only made the registry name NAME, which the caller
    pulls as the policy says. None for a plain image name."""
    from . import transports

    t = transports.parse(name)
    if t is None:
        return None
    if t.transport == "docker":
        return transports.registry_name(t)  # a registry name: pulled as the pull policy says
    return transports.pull(rt, t, report)[1]
