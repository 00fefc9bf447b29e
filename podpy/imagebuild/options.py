"""`podpy build`'s options, and the parsing of those the executor reads first: the build
arguments, the secrets, RUN's default network, and the predefined platform ARGs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from ..errors import InvalidArgument

FORMATS = ("oci", "docker")
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ftp_proxy", "FTP_PROXY",
              "no_proxy", "NO_PROXY")
PULL_POLICIES = {"always": "always", "true": "always", "missing": "missing", "false": "missing",
                 "never": "never", "newer": "newer", "ifmissing": "missing", "ifnewer": "newer"}


@dataclass
class BuildOptions:
    context: str = "."
    files: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    target: Optional[str] = None
    build_args: list[str] = field(default_factory=list)
    build_arg_files: list[str] = field(default_factory=list)
    no_cache: bool = False
    pull: str = "missing"
    layers: bool = True
    squash: bool = False
    labels: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    format: Optional[str] = None
    quiet: bool = False
    iidfile: Optional[str] = None
    sign_by: Optional[str] = None           # --sign-by: the GPG key the built image is signed with in the store
    network: Optional[str] = None
    jobs: int = 1
    tls_verify: Optional[bool] = None     # for the images FROM and --from pull
    signature_policy: Optional[str] = None  # the trust policy those pulls are checked against
    decryption_keys: list[str] = field(default_factory=list)  # KEY[:PASSPHRASE]: FROM's encrypted layers
    creds: Optional[str] = None
    cert_dir: Optional[str] = None
    auth_file: Optional[str] = None
    # what the final image records (see flags.py)
    annotations: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    unsetenv: list[str] = field(default_factory=list)
    arch: Optional[str] = None
    os: Optional[str] = None
    variant: Optional[str] = None
    platforms: list[str] = field(default_factory=list)
    os_features: list[str] = field(default_factory=list)
    os_version: Optional[str] = None
    timestamp: Optional[int] = None
    omit_history: bool = False
    identity_label: bool = True
    squash_all: bool = False
    from_: Optional[str] = None
    manifest: Optional[str] = None
    outputs: list[str] = field(default_factory=list)
    # the build's inputs
    build_contexts: list[str] = field(default_factory=list)
    ignorefile: Optional[str] = None
    cpp_flags: list[str] = field(default_factory=list)
    skip_unused_stages: bool = True
    retry: int = 3
    retry_delay: Optional[str] = None
    cache_ttl: Optional[str] = None
    cache_from: Optional[str] = None     # a registry's repository: the layer cache read from / pushed to
    cache_to: Optional[str] = None
    ssh: list[str] = field(default_factory=list)     # default|ID[=SOCKET|KEY[,...]] for RUN --mount=type=ssh
    uid_map: list[str] = field(default_factory=list)   # RUN's id maps (--userns-uid-map & co)
    gid_map: list[str] = field(default_factory=list)
    uid_map_user: Optional[str] = None
    gid_map_group: Optional[str] = None
    hooks_dirs: list[str] = field(default_factory=list)
    # what every RUN gets, as `run` takes it
    add_hosts: list[str] = field(default_factory=list)
    no_hosts: bool = False
    group_add: list[str] = field(default_factory=list)   # supplementary groups (names, gids, keep-groups)
    dns: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opts: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    ulimits: list[str] = field(default_factory=list)
    shm_size: Optional[str] = None
    ipc: Optional[str] = None
    pid: Optional[str] = None
    uts: Optional[str] = None
    cgroupns: Optional[str] = None
    userns: Optional[str] = None
    cgroup_parent: Optional[str] = None
    memory: Optional[str] = None
    memory_swap: Optional[str] = None
    cpu_shares: Optional[str] = None
    cpu_period: Optional[str] = None
    cpu_quota: Optional[str] = None
    cpuset_cpus: Optional[str] = None
    cpuset_mems: Optional[str] = None
    http_proxy: bool = True
    isolation: Optional[str] = None
    runtime_flags: list[str] = field(default_factory=list)
    rm: bool = True
    force_rm: bool = False
    stdin: bool = False
    run_output: Optional[int] = None      # the fd RUN steps' stdout and stderr go to (else podpy's own)


class Secret:
    def __init__(self, path: Optional[str] = None, value: Optional[str] = None) -> None:
        self.path = path
        self.value = value

    def read(self) -> bytes:
        if self.path is not None:
            with open(self.path, "rb") as f:
                return f.read()
        return (self.value or "").encode("utf-8", "surrogateescape")


def parse_build_args(items: list[str], files: list[str]) -> dict[str, str]:
    """--build-arg-file lines, then --build-arg KEY=VALUE (KEY alone: from the environment)."""
    out: dict[str, str] = {}
    from_files: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise InvalidArgument(f"--build-arg-file {path}: {exc.strerror}") from exc
        from_files += [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    for item in from_files + items:
        k, eq, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid --build-arg {item!r}: expected KEY=VALUE")
        if eq:
            out[k] = v
        elif k in os.environ:
            out[k] = os.environ[k]
    return out


def parse_secrets(items: list[str]) -> dict[str, Secret]:
    """--secret id=ID,src=FILE | id=ID,env=VARIABLE (type=file|env may say which)."""
    out: dict[str, Secret] = {}
    for item in items:
        fields = dict(p.partition("=")[::2] for p in item.split(",") if p)
        sid = fields.pop("id", "")
        src = fields.pop("src", None) or fields.pop("source", None)
        env = fields.pop("env", None)
        kind = fields.pop("type", "file" if src else "env" if env else "")
        if not sid or fields or kind not in ("file", "env", ""):
            raise InvalidArgument(f"invalid --secret {item!r}: expected id=ID,src=FILE or id=ID,env=VARIABLE")
        if kind == "env" or (not src and not kind):
            name = env or src or sid
            if name not in os.environ:
                raise InvalidArgument(f"--secret {item}: the environment has no variable {name}")
            out[sid] = Secret(value=os.environ[name])
        else:
            path = src or sid
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise InvalidArgument(f"--secret {item}: cannot read {path}")
            out[sid] = Secret(path=os.path.abspath(path))
    return out


def parse_network(value: Optional[str]) -> str:
    if value in (None, "", "default", "private", "bridge", "slirp4netns"):
        return "slirp4netns"
    if value in ("none", "host"):
        return value
    raise InvalidArgument(f"invalid --network {value!r}: use slirp4netns, none or host")


def builtin_args(target: Optional[str] = None) -> dict[str, str]:
    """The predefined platform ARGs: the build's (this machine) and the target's (--platform's)."""
    from ..engine.imagestore import host_arch

    arch = host_arch()
    out = {}
    for who in ("TARGET", "BUILD"):
        parts = (target if who == "TARGET" and target else f"linux/{arch}").split("/")
        out.update({f"{who}PLATFORM": "/".join(parts), f"{who}OS": parts[0], f"{who}ARCH": parts[1],
                    f"{who}VARIANT": parts[2] if len(parts) > 2 else ""})
    return out
