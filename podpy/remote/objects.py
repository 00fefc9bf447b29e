"""The image, volume, network and system verbs over a service: the local engines' method
names, options and reports, made of libpod API calls (the rest refused by Remote)."""

from __future__ import annotations

import json
import os
import posixpath
import shutil

from ..engine.entities import Report
from ..errors import InvalidArgument, NoSuchImage, NoSuchNetwork, NoSuchVolume
from .client import ServiceError, done
from .base import Remote, _each, _q, engine_error, exists

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


def _grouped(filters: Optional[list[str]]) -> str:
    out: dict[str, list[str]] = {}
    for f in filters or []:
        key, _, value = f.partition("=")
        out.setdefault(key, []).append(value)
    return json.dumps(out)


class RemoteImageEngine(Remote):
    def __init__(self, client: Any, command: str, warn: Callable[[str], None] = lambda _line: None,
                 progress: Optional[Callable[[str], None]] = None) -> None:
        super().__init__(client, command, warn)
        self.progress = progress

    def ls(self, name: Optional[str] = None, all_: bool = False, filters: Optional[list[str]] = None) -> list[Any]:
        from storage.images import Image

        from ..engine.entities import ImageSummary

        wanted = list(filters or []) + ([f"reference={name}"] if name else [])
        out = []
        for entry in self.client.call("GET", "/images/json", {"all": all_, "filters": _grouped(wanted)}) or []:
            image_id = str(entry.get("Id") or "").removeprefix("sha256:")
            created = float(entry.get("Created") or 0)
            image = Image(image_id, tuple(entry.get("RepoTags") or entry.get("Names") or ()), {}, (),
                          int(entry.get("Size") or 0), created, entry.get("Digest") or None, None)
            data = dict(entry, Id=image_id)
            out.append(ImageSummary(image=image, containers=int(entry.get("Containers") or 0), created=created,
                                    data=data))
        return out

    def inspect(self, names: list[str]) -> list[Report]:
        return _each(names, lambda n: self.client.call("GET", f"/images/{_q(n)}/json"), NoSuchImage)

    def exists(self, name: str) -> bool:
        return exists(self.client, "images", name)

    def pull(self, opts: Any) -> Any:
        from .run import pull

        self._pull_flags(opts)
        image_id = pull(self, opts.name, "always", self.progress is None, opts.tls_verify, opts.creds,
                        self.progress)
        return Pulled(image_id)

    def save(self, opts: Any) -> None:
        """The images in opts.format, to opts.output or stdout (the service writes them; a
        directory's format comes as a tar, unpacked here into the new directory)."""
        if len(opts.names) > 1 and not opts.multi_image:
            raise InvalidArgument(f"podpy {self.command} of several images: not available with --remote "
                                  "without --multi-image-archive")
        is_dir = opts.format.endswith("-dir")
        if is_dir and opts.output in (None, "-"):
            raise InvalidArgument(f"the {opts.format} format writes a directory: give it with -o")
        if is_dir and os.path.lexists(opts.output):
            raise InvalidArgument(f"{opts.output}: the directory must not exist yet")
        query = {"references": list(opts.names), "format": opts.format, "compress": opts.compress or None,
                 "ociAcceptUncompressedLayers": opts.uncompressed or None}
        try:
            resp = self.client.open("GET", "/images/export", query, timeout=None)
        except ServiceError as exc:
            raise engine_error(exc, NoSuchImage) from None
        if not is_dir:
            copy_out(resp, opts.output)
            return
        import tempfile

        with tempfile.TemporaryFile(prefix="podpy-save-") as f:
            try:
                shutil.copyfileobj(resp, f, 1 << 20)
            finally:
                done(resp)
            f.seek(0)
            _unpack_dir(f, opts.output)

    def load(self, source: Optional[str]) -> list[Any]:
        """A docker-archive or oci-archive (a file, or stdin) loaded by the service."""
        import os
        import shutil
        import sys
        import tempfile

        from storage.images import Image

        from ..engine.entities import LoadReport

        work = None
        try:
            if source in (None, "-"):
                work = tempfile.mkdtemp(prefix="podpy-load-")
                source = os.path.join(work, "archive.tar")
                with open(source, "wb") as f:
                    shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
            if os.path.isdir(source):
                raise InvalidArgument(f"podpy {self.command} of a directory: not available with --remote")
            with open(source, "rb") as f:
                doc = self.client.call("POST", "/images/load", body=f, timeout=None) or {}
        except ServiceError as exc:
            raise InvalidArgument(str(exc)) from None
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
        names = [str(n) for n in doc.get("Names") or []]
        return [LoadReport(image=Image(n.removeprefix("sha256:"), (), {}, (), 0, 0.0),
                           names=[] if n.startswith("sha256:") else [n]) for n in names]

    def prune(self, all_: bool = False, filters: Optional[list[str]] = None) -> list[str]:
        from .prune import images

        return images(self.client, all_, filters)

    def build(self, opts: Any, say: Callable[[str], None]) -> str:
        """`build`: the context sent to the service, which builds the image; its id."""
        from .build import build

        return build(self.client, opts, self.command, say)

    def _pull_flags(self, opts: Any) -> None:
        for flag, value in (("--cert-dir", opts.cert_dir), ("--authfile", opts.auth_file), ("--retry", opts.retry),
                            ("--retry-delay", opts.retry_delay), ("--signature-policy", opts.signature_policy),
                            ("--platform", opts.platform), ("--decryption-key", opts.decryption_keys)):
            if value:
                raise InvalidArgument(f"podpy {self.command} {flag}: not available with --remote")

    def pull_all_tags(self, opts: Any) -> list[Any]:
        """Every tag of the name's repository, pulled by the service."""
        from .run import pull_ids

        self._pull_flags(opts)
        return [Pulled(i) for i in pull_ids(self, opts.name, "always", self.progress is None, opts.tls_verify,
                                            opts.creds, self.progress, all_tags=True)]

    def tag(self, name: str, targets: list[str]) -> None:
        from storage.reference import split_repo_tag

        for target in targets:
            repo, tag = split_repo_tag(target) if ":" in target.rsplit("/", 1)[-1] else (target, "latest")
            try:
                self.client.call("POST", f"/images/{_q(name)}/tag", {"repo": repo, "tag": tag})
            except ServiceError as exc:
                raise engine_error(exc, NoSuchImage) from None

    def rm(self, names: list[str], force: bool = False, all_: bool = False, ignore: bool = False,
           no_prune: bool = False) -> list[Any]:
        from ..engine.entities import ImageRemoveReport

        if all_ and names:
            raise InvalidArgument("when using the --all switch, you may not pass any images names or IDs")
        if not names and not all_:
            raise InvalidArgument("`podpy rmi` requires at least one image name or id, or --all")
        out = []
        for name in names or [""]:
            try:
                doc = self.client.call("DELETE", "/images/remove",
                                       {"images": [name] if name else None, "all": all_, "force": force,
                                        "ignore": ignore, "noprune": no_prune}, timeout=None) or {}
            except ServiceError as exc:
                out.append(ImageRemoveReport(name=name, error=engine_error(exc, NoSuchImage)))
                continue
            errors = doc.get("Errors") or []
            deleted = [str(d) for d in doc.get("Deleted") or []]
            out.append(ImageRemoveReport(name=name, untagged=[str(u) for u in doc.get("Untagged") or []],
                                         deleted=deleted[0] if deleted else None, also=deleted[1:],
                                         error=(NoSuchImage(str(errors[0])) if "image not known" in str(errors[0])
                                                else InvalidArgument(str(errors[0]))) if errors else None))
        return out

    def search(self, opts: Any) -> list[dict[str, Any]]:
        """libpod's search: the service asks the registries (--authfile and --cert-dir name this
        host's files, which the service cannot read)."""
        from .run import _auth

        for flag, value in (("--authfile", opts.auth_file), ("--cert-dir", opts.cert_dir)):
            if value:
                raise InvalidArgument(f"podpy {self.command} {flag}: not available with --remote")
        query = {"term": opts.term, "limit": opts.limit, "filters": _grouped(list(opts.filters)),
                 "listTags": opts.list_tags, "tlsVerify": opts.tls_verify}
        try:
            rows = self.client.call("GET", "/images/search", query, headers=_auth(opts.creds), timeout=None) or []
        except ServiceError as exc:
            raise InvalidArgument(str(exc)) from None
        return [dict(r) for r in rows]

    def import_(self, opts: Any) -> Any:
        """libpod's import: the tarball (a file, stdin, or a URL the service fetches) sent to the
        service, which makes the image."""
        import os
        import shutil
        import sys
        import tempfile

        from storage.images import Image

        query = {"reference": opts.reference, "changes": list(opts.changes), "message": opts.message or None,
                 "arch": opts.arch, "os": opts.os, "variant": opts.variant}
        work = None
        try:
            if opts.source.startswith(("http://", "https://")):
                doc = self.client.call("POST", "/images/import", dict(query, url=opts.source), timeout=None)
            else:
                source = opts.source
                if source == "-":
                    work = tempfile.mkdtemp(prefix="podpy-import-")
                    source = os.path.join(work, "rootfs.tar")
                    with open(source, "wb") as f:
                        shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
                if not os.path.isfile(source):   # the local import's words
                    raise InvalidArgument(f"cannot import {source}: no such file")
                try:
                    f = open(source, "rb")
                except OSError as exc:
                    raise InvalidArgument(f"cannot import {source}: {(exc.strerror or str(exc)).lower()}") from None
                with f:
                    doc = self.client.call("POST", "/images/import", query, body=f, timeout=None)
        except ServiceError as exc:
            raise InvalidArgument(str(exc)) from None
        finally:
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)
        return Image(str((doc or {}).get("Id") or "").removeprefix("sha256:"), (), {}, (), 0, 0.0)

    def history(self, name: str) -> list[dict[str, Any]]:
        """libpod's history, in the rows of the local engine's (times to the second)."""
        import datetime as dt

        from ..engine.imagestore import _human
        from ..formats import ago

        try:
            entries = self.client.call("GET", f"/images/{_q(name)}/history") or []
        except ServiceError as exc:
            raise engine_error(exc, NoSuchImage) from None
        rows = []
        for e in entries:
            seconds = int(e.get("Created") or 0)
            created = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") \
                if seconds else ""
            ident = str(e.get("Id") or "<missing>").removeprefix("sha256:")
            size = int(e.get("Size") or 0)
            row = {"created": created, "CreatedBy": str(e.get("CreatedBy") or ""), "size": size,
                   "comment": str(e.get("Comment") or ""), "tags": e.get("Tags") or None, "ID": ident}
            row.update(Created=ago(seconds) if seconds else "", Size=_human(size), Comment=row["comment"],
                       Tags=row["tags"], id=ident)
            rows.append(row)
        return rows

    def untag(self, name: str, targets: list[str]) -> list[str]:
        """libpod's untag, once per name (every name with none)."""
        try:
            if not targets:
                self.client.call("POST", f"/images/{_q(name)}/untag")
            for target in targets:
                repo, tag = target, ""
                if ":" in target.rpartition("/")[2]:
                    repo, _, tag = target.rpartition(":")
                self.client.call("POST", f"/images/{_q(name)}/untag", {"repo": repo, "tag": tag or "latest"})
        except ServiceError as exc:
            raise engine_error(exc, NoSuchImage) from None
        return list(targets)

    def diff(self, name: str, other: Optional[str] = None) -> list[tuple[str, str]]:
        try:
            changes = self.client.call("GET", f"/images/{_q(name)}/changes", {"parent": other}) or []
        except ServiceError as exc:
            raise engine_error(exc, NoSuchImage) from None
        kinds = {0: "C", 1: "A", 2: "D"}
        return [(kinds.get(int(c.get("Kind") or 0), "C"), str(c["Path"])) for c in changes]


class Pulled:
    """The image a remote pull got (the CLI prints its id)."""

    def __init__(self, image_id: str) -> None:
        self.id = image_id


class RemoteVolumeEngine(Remote):
    def create(self, opts: Any) -> str:
        body = {"Name": opts.name or "", "Driver": opts.driver, "Labels": dict(opts.labels),
                "Options": dict(opts.options), "IgnoreIfExists": opts.ignore}
        try:
            return str(self.client.call("POST", "/volumes/create", body=body)["Name"])
        except ServiceError as exc:
            raise engine_error(exc, NoSuchVolume) from None

    def ls(self, filters: list[str]) -> list[dict[str, Any]]:
        return self.client.call("GET", "/volumes/json", {"filters": _grouped(filters)}) or []

    def inspect(self, names: list[str], all_: bool = False) -> list[Report]:
        if all_ == bool(names):
            raise InvalidArgument("provide one or more volume names or use --all")
        if all_:
            return [Report(v["Name"], v) for v in self.ls([])]
        return _each(names, lambda n: self.client.call("GET", f"/volumes/{_q(n)}/json"), NoSuchVolume)

    def exists(self, name: str) -> bool:
        return exists(self.client, "volumes", name)

    def rm(self, names: list[str], force: bool = False, all_: bool = False,
           timeout: Optional[int] = None) -> list[Report]:
        targets = [v["Name"] for v in self.ls([])] if all_ else list(names)
        if not targets and not all_:
            raise InvalidArgument("`podpy volume rm` requires at least one volume name, or --all")
        return _each(targets, lambda n: (self.client.call("DELETE", f"/volumes/{_q(n)}",
                                                          {"force": force, "timeout": timeout}, timeout=None), n)[1],
                     NoSuchVolume)

    def prune(self, filters: Optional[list[str]] = None,
              confirm: Optional[Callable[[list[str]], bool]] = None) -> list[str]:
        from .prune import volumes

        return volumes(self.client, filters, confirm)


class RemoteNetworkEngine(Remote):
    def connect(self, container: str, network: str, aliases: Optional[list[str]] = None,
                ip: Optional[str] = None, mac: Optional[str] = None, ip6: Optional[str] = None) -> None:
        body = {"container": container, "aliases": list(aliases or []) or None,
                "static_ips": [a for a in (ip, ip6) if a] or None, "static_mac": mac or None}
        try:
            self.client.call("POST", f"/networks/{_q(network)}/connect",
                             body={k: v for k, v in body.items() if v is not None})
        except ServiceError as exc:
            raise engine_error(exc, NoSuchNetwork) from None

    def disconnect(self, container: str, network: str, force: bool = False) -> None:
        try:
            self.client.call("POST", f"/networks/{_q(network)}/disconnect",
                             body={"Container": container, "Force": force})
        except ServiceError as exc:
            raise engine_error(exc, NoSuchNetwork) from None

    def create(self, opts: Any) -> dict[str, Any]:
        if opts.ip_range or opts.options or opts.ignore:
            raise InvalidArgument(f"podpy {self.command} --ip-range, --opt and --ignore: not available with --remote")
        subnets = opts.subnet if isinstance(opts.subnet, list) else [opts.subnet] if opts.subnet else []
        gateways = opts.gateway if isinstance(opts.gateway, list) else [opts.gateway] if opts.gateway else []
        body: dict[str, Any] = {"name": opts.name or "", "driver": opts.driver, "internal": opts.internal,
                                "labels": dict(opts.labels), "dns_enabled": not opts.disable_dns,
                                "ipv6_enabled": opts.ipv6,
                                "subnets": [{"subnet": s, **({"gateway": gateways[i]} if i < len(gateways) else {})}
                                            for i, s in enumerate(subnets)]}
        if opts.interface_name:
            body["network_interface"] = opts.interface_name
        if opts.ipam_driver:
            body["ipam_options"] = {"driver": opts.ipam_driver}
        if opts.dns:
            body["network_dns_servers"] = list(opts.dns)
        try:
            return dict(self.client.call("POST", "/networks/create", body=body))
        except ServiceError as exc:
            raise engine_error(exc, NoSuchNetwork) from None

    def ls(self, filters: list[str]) -> list[Any]:
        from ..engine.entities import NetworkSummary

        out = []
        for net in self.client.call("GET", "/networks/json", {"filters": _grouped(filters)}) or []:
            for key, default in (("network_interface", ""), ("created", ""), ("subnets", []), ("internal", False),
                                 ("dns_enabled", False)):
                net.setdefault(key, default)   # what `network ls` shows, when a service leaves it out
            out.append(NetworkSummary(network=net))
        return out

    def inspect(self, names: list[str]) -> list[Report]:
        return _each(names, lambda n: self.client.call("GET", f"/networks/{_q(n)}/json"), NoSuchNetwork)

    def exists(self, name: str) -> bool:
        return exists(self.client, "networks", name)

    def rm(self, names: list[str], force: bool = False, timeout: Optional[int] = None) -> list[Report]:
        return _each(names, lambda n: (self.client.call("DELETE", f"/networks/{_q(n)}",
                                                        {"force": force, "timeout": timeout}, timeout=None), n)[1],
                     NoSuchNetwork)

    def prune(self, filters: Optional[list[str]] = None) -> list[str]:
        from .prune import networks

        return networks(self.client, filters)


class RemoteSystemEngine(Remote):
    def df(self) -> dict[str, Any]:
        """libpod's SystemDfReport as the local engine's usage: an image once however many names
        it has; podpy's service gives its own image totals (a shared layer counted once), podman's
        the sums its client makes."""
        from ..formats import parse_rfc3339

        def when(text: Any) -> float:
            return parse_rfc3339(str(text or "")) or 0.0

        doc = self.client.call("GET", "/system/df", timeout=None) or {}
        images: dict[str, dict[str, Any]] = {}
        for i in doc.get("Images") or []:
            entry = images.setdefault(str(i.get("ImageID") or ""), {
                "Id": str(i.get("ImageID") or ""), "Names": [], "Size": int(i.get("Size") or 0),
                "SharedSize": int(i.get("SharedSize") or 0), "UniqueSize": int(i.get("UniqueSize") or 0),
                "Containers": int(i.get("Containers") or 0), "Created": when(i.get("Created"))})
            if i.get("Repository") not in (None, "", "<none>"):
                entry["Names"].append(f"{i['Repository']}:{i.get('Tag') or 'latest'}")
        unused = [i for i in images.values() if not i["Containers"]]
        containers = [{"Id": str(c.get("ContainerID") or ""), "Name": str(c.get("Names") or ""),
                       "Image": str(c.get("Image") or ""), "Size": int(c.get("RWSize") or 0),
                       "Status": str(c.get("Status") or ""), "Created": when(c.get("Created")),
                       "Command": [str(w) for w in c.get("Command") or []],
                       "LocalVolumes": int(c.get("LocalVolumes") or 0)} for c in doc.get("Containers") or []]
        running = [c for c in containers if c["Status"] in ("running", "paused")]
        volumes = doc.get("Volumes") or []
        return {
            "Images": {"Total": len(images), "Active": len(images) - len(unused),
                       "Size": int(doc.get("ImagesSize") or sum(i["Size"] for i in images.values())),
                       "Reclaimable": int(doc["ImagesReclaimable"]) if "ImagesReclaimable" in doc
                       else sum(i["Size"] for i in unused)},
            "Containers": {"Total": len(containers), "Active": len(running),
                           "Size": sum(c["Size"] for c in containers),
                           "Reclaimable": sum(c["Size"] for c in containers if c not in running)},
            "Volumes": {"Total": len(volumes), "Active": sum(1 for v in volumes if v.get("Links")),
                        "Size": sum(int(v.get("Size") or 0) for v in volumes),
                        "Reclaimable": sum(int(v.get("ReclaimableSize") or 0) for v in volumes)},
            "ImageList": list(images.values()),
            "ContainerList": containers,
            "VolumeList": [{"Name": str(v.get("VolumeName") or ""), "Links": int(v.get("Links") or 0),
                            "Size": int(v.get("Size") or 0)} for v in volumes],
        }

    def info(self) -> dict[str, Any]:
        doc = self.client.call("GET", "/info") or {}
        host = doc.get("host")
        if isinstance(host, dict):
            host["serviceIsRemote"] = True
        return doc

    def events(self, opts: Any) -> Any:
        """The service's events, each as `podpy events` reports podpy's own."""
        from ..engine.events_read import report
        from ..formats import rfc3339

        query: dict[str, Any] = {"stream": opts.stream, "filters": _grouped(opts.filters)}
        if opts.since is not None:
            query["since"] = rfc3339(opts.since)
        if opts.until is not None:
            query["until"] = rfc3339(opts.until)
        for doc in self.client.lines("GET", "/events", query):
            attributes = dict((doc.get("Actor") or {}).get("Attributes") or {})
            name, image = attributes.pop("name", ""), attributes.pop("image", "") or doc.get("from", "")
            attributes.pop("podId", None)
            code = str(attributes.pop("containerExitCode", "") or "")
            if code.lstrip("-").isdigit() and int(code):
                attributes["containerExitCode"] = int(code)   # a number, as podpy's own log has it
            yield report({"Type": doc.get("Type", ""), "Status": doc.get("Action") or doc.get("status", ""),
                          "ID": (doc.get("Actor") or {}).get("ID") or doc.get("id", ""), "Name": name,
                          "Image": image, "Time": int(doc.get("timeNano") or 0), "Attributes": attributes})

    def prune(self, all_images: bool = False, volumes: bool = False, filters: Optional[list[str]] = None) -> Any:
        from .prune import system

        return system(self.client, all_images, volumes, filters)

    def server_version(self) -> dict[str, Any]:
        return self.client.call("GET", "/version") or {}


def copy_out(resp: Any, output: Optional[str]) -> None:
    """A streamed answer (a tar) to output, whole or not at all (None or "-": stdout)."""
    import os
    import sys

    from .client import done

    try:
        if output in (None, "-"):
            out = sys.stdout.buffer
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
            out.flush()
        else:
            tmp = f"{output}.tmp-{os.getpid()}"
            try:
                with open(tmp, "wb") as f:
                    for chunk in iter(lambda: resp.read(1 << 20), b""):
                        f.write(chunk)
                os.replace(tmp, output)
            except BaseException:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
    finally:
        done(resp)


def _unpack_dir(f: Any, output: str) -> None:
    """A tar of an image directory (regular files and directories only, every name inside)
    unpacked into the new directory output, whole or not at all."""
    import tarfile

    tmp = f"{output}.tmp-{os.getpid()}"
    os.mkdir(tmp, 0o755)
    try:
        with tarfile.open(fileobj=f, mode="r|*") as tf:
            for member in tf:
                name = posixpath.normpath(member.name.lstrip("/"))
                if name in (".", "") or name.startswith("../") or name == "..":
                    continue
                target = os.path.join(tmp, name)
                if member.isdir():
                    os.makedirs(target, 0o755, exist_ok=True)
                elif member.isreg():
                    os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
                    src = tf.extractfile(member)
                    assert src is not None
                    with open(target, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                    os.chmod(target, member.mode & 0o755 or 0o644)
                else:
                    raise InvalidArgument(f"the service's {name}: neither a file nor a directory")
        os.rename(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
