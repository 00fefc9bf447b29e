"""`podpy build` (and `podpy image build`): options -> podpy.imagebuild's executor."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from typing import Iterator, List, Optional

import typer

from . import render
from .app import runtime


def _say(line: str) -> None:
    # flushed at once: a RUN step's output goes straight to the same file descriptor
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _say_err(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def build(
    ctx: typer.Context,
    context: str = typer.Argument(".", help="The build context: a directory, - (a tar or a Containerfile "
                                  "on stdin) or a git URL."),
    tags: List[str] = typer.Option([], "-t", "--tag", help="Name the image (repeatable)."),
    files: List[str] = typer.Option([], "-f", "--file", help="The Containerfile (- for stdin)."),
    target: Optional[str] = typer.Option(None, "--target", help="Build this stage and what it needs."),
    build_args: List[str] = typer.Option([], "--build-arg", help="KEY=VALUE for an ARG (repeatable)."),
    build_arg_files: List[str] = typer.Option([], "--build-arg-file", help="A file of KEY=VALUE lines."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the layer cache."),
    pull: Optional[str] = typer.Option(None, "--pull", help="always, missing (the default), never or newer."),
    pull_always: bool = typer.Option(False, "--pull-always/--no-pull-always", hidden=True,
                                     help="podman's hidden spelling of --pull=always."),
    pull_never: bool = typer.Option(False, "--pull-never/--no-pull-never", hidden=True,
                                    help="podman's hidden spelling of --pull=never."),
    layers: bool = typer.Option(True, "--layers/--no-layers", help="Commit and cache each step (default)."),
    squash: bool = typer.Option(False, "--squash", help="The new layers as one."),
    labels: List[str] = typer.Option([], "--label", help="KEY=VALUE label of the image (repeatable)."),
    secrets: List[str] = typer.Option([], "--secret", help="id=ID,src=FILE for RUN --mount=type=secret."),
    fmt: Optional[str] = typer.Option(None, "--format", help="oci (default) or docker."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image id."),
    iidfile: Optional[str] = typer.Option(None, "--iidfile", help="Write the image id to this file."),
    network: Optional[str] = typer.Option(None, "--network", help="RUN's network: slirp4netns, none or host."),
    jobs: int = typer.Option(1, "--jobs", help="Stages built side by side when independent (0: no limit)."),
    tls_verify: Optional[bool] = typer.Option(None, "--tls-verify/--no-tls-verify",
                                              help="Require HTTPS and verify certificates when pulling."),
    creds: Optional[str] = typer.Option(None, "--creds", help="USERNAME:PASSWORD for pulling."),
    cert_dir: Optional[str] = typer.Option(None, "--cert-dir", help="Directory with ca.crt, client.cert/.key."),
    authfile: Optional[str] = typer.Option(None, "--authfile", help="Credentials file (default: auth.json)."),
    signature_policy: Optional[str] = typer.Option(None, "--signature-policy", hidden=True,
                                                   help="The trust policy FROM's pulls are checked against."),
    _content_trust: bool = typer.Option(False, "--disable-content-trust",
                                        help="A no-op kept for Docker's scripts, as in podman."),
    sign_by: Optional[str] = typer.Option(None, "--sign-by", help="Sign the built image with this GPG key "
                                          "(kept with it in the store; push carries the signature along)."),
    decryption_keys: List[str] = typer.Option([], "--decryption-key", help="KEY[:PASSPHRASE]: a private key "
                                              "for FROM images' encrypted layers (repeatable)."),
    # what the image records
    annotations: List[str] = typer.Option([], "--annotation", help="KEY=VALUE annotation of the image's manifest."),
    env: List[str] = typer.Option([], "--env", help="KEY=VALUE (or KEY from here) set in the image (repeatable)."),
    unsetenv: List[str] = typer.Option([], "--unsetenv", help="Drop this variable from the image's environment."),
    arch: Optional[str] = typer.Option(None, "--arch", help="The architecture of the image (and of FROM's pull)."),
    os_: Optional[str] = typer.Option(None, "--os", help="The operating system of the image (and of FROM's pull)."),
    variant: Optional[str] = typer.Option(None, "--variant", help="The architecture's variant (arm: v7, v8...)."),
    platforms: List[str] = typer.Option([], "--platform", help="OS/ARCH[/VARIANT] of the image and of FROM's pull."),
    all_platforms: bool = typer.Option(False, "--all-platforms", help="Build for every platform all the base "
                                       "images' manifest lists offer."),
    os_features: List[str] = typer.Option([], "--os-feature", help="An OS feature the image needs (! to drop)."),
    os_version: Optional[str] = typer.Option(None, "--os-version", help="The OS version the image needs."),
    timestamp: Optional[int] = typer.Option(None, "--timestamp", help="Seconds since the epoch: every time the "
                                            "build records, and the mtimes of the files it adds."),
    omit_history: bool = typer.Option(False, "--omit-history/--no-omit-history", help="No history in the image."),
    identity_label: bool = typer.Option(True, "--identity-label/--no-identity-label",
                                        help="Accepted: podpy adds no builder label."),
    squash_all: bool = typer.Option(False, "--squash-all/--no-squash-all",
                                    help="The image as one layer, base image included."),
    from_: Optional[str] = typer.Option(None, "--from", help="The image the first FROM starts from instead."),
    manifest: Optional[str] = typer.Option(None, "--manifest", help="Add the image to this manifest list."),
    outputs: List[str] = typer.Option([], "-o", "--output", help="type=local,dest=DIR | type=tar,dest=FILE "
                                      "(or DIR): the final file system written out."),
    # the build's inputs
    build_contexts: List[str] = typer.Option([], "--build-context", help="NAME=DIR|IMAGE: what COPY --from=NAME "
                                             "and FROM NAME read."),
    ignorefile: Optional[str] = typer.Option(None, "--ignorefile", help="The ignore file (instead of the "
                                             "context's .containerignore)."),
    cpp_flags: List[str] = typer.Option([], "--cpp-flag", help="A flag for cpp, for a Containerfile.in."),
    skip_unused_stages: bool = typer.Option(True, "--skip-unused-stages/--no-skip-unused-stages",
                                            help="Build only the stages the target needs (default)."),
    retry: int = typer.Option(3, "--retry", help="Times a failed pull is tried again."),
    retry_delay: str = typer.Option("2s", "--retry-delay", help="Wait between pull attempts."),
    cache_ttl: Optional[str] = typer.Option(None, "--cache-ttl", help="Use only cached steps younger than this."),
    cache_from: Optional[str] = typer.Option(None, "--cache-from", help="A registry repository to take "
                                             "cached steps from (REPO:KEY)."),
    cache_to: Optional[str] = typer.Option(None, "--cache-to", help="A registry repository to push each "
                                           "built step to (REPO:KEY)."),
    # how RUN runs
    hooks_dirs: List[str] = typer.Option([], "--hooks-dir", help="A directory of OCI hook files for RUN "
                                         "(repeatable)."),
    uid_map: List[str] = typer.Option([], "--userns-uid-map", help="CONTAINER:HOST:SIZE: RUN's uid map (as "
                                      "run's --uidmap)."),
    gid_map: List[str] = typer.Option([], "--userns-gid-map", help="CONTAINER:HOST:SIZE: RUN's gid map."),
    uid_map_user: Optional[str] = typer.Option(None, "--userns-uid-map-user", help="RUN's uid map: this "
                                               "user's /etc/subuid ranges."),
    gid_map_group: Optional[str] = typer.Option(None, "--userns-gid-map-group", help="RUN's gid map: this "
                                                "group's /etc/subgid ranges."),
    ssh: List[str] = typer.Option([], "--ssh", help="default|ID[=SOCKET|KEY[,KEY]]: an SSH agent for "
                                  "RUN --mount=type=ssh."),
    add_hosts: List[str] = typer.Option([], "--add-host", help="HOST:IP in RUN's /etc/hosts."),
    no_hosts: bool = typer.Option(False, "--no-hosts/--hosts", help="RUN keeps the image's /etc/hosts."),
    group_add: List[str] = typer.Option([], "--group-add", help="A supplementary group of RUN's process (a name "
                                                               "in the image's /etc/group, a gid, or "
                                                               "keep-groups)."),
    dns: List[str] = typer.Option([], "--dns", help="A DNS server in RUN's resolv.conf (none: no resolv.conf)."),
    dns_options: List[str] = typer.Option([], "--dns-option", help="A resolv.conf option for RUN."),
    dns_search: List[str] = typer.Option([], "--dns-search", help="A search domain for RUN."),
    cap_add: List[str] = typer.Option([], "--cap-add", help="A capability RUN gets."),
    cap_drop: List[str] = typer.Option([], "--cap-drop", help="A capability RUN loses."),
    security_opts: List[str] = typer.Option([], "--security-opt", help="As run's, for RUN."),
    devices: List[str] = typer.Option([], "--device", help="HOST[:CONTAINER[:PERMISSIONS]] for RUN."),
    volumes: List[str] = typer.Option([], "-v", "--volume", help="HOST:CONTAINER[:OPTIONS] bound during RUN."),
    ulimits: List[str] = typer.Option([], "--ulimit", help="NAME=SOFT[:HARD] for RUN."),
    shm_size: Optional[str] = typer.Option(None, "--shm-size", help="The size of RUN's /dev/shm."),
    ipc: Optional[str] = typer.Option(None, "--ipc", help="RUN's IPC namespace: private or host."),
    pid: Optional[str] = typer.Option(None, "--pid", help="RUN's PID namespace: private or host."),
    uts: Optional[str] = typer.Option(None, "--uts", help="RUN's UTS namespace: private or host."),
    cgroupns: Optional[str] = typer.Option(None, "--cgroupns", help="RUN's cgroup namespace: private or host."),
    userns: Optional[str] = typer.Option(None, "--userns", help="RUN's user namespace: host or private (both "
                                         "the user's default mapping)."),
    cgroup_parent: Optional[str] = typer.Option(None, "--cgroup-parent", help="The cgroup RUN's cgroups go under."),
    memory: Optional[str] = typer.Option(None, "-m", "--memory", help="RUN's memory limit."),
    memory_swap: Optional[str] = typer.Option(None, "--memory-swap", help="RUN's memory plus swap limit."),
    cpu_shares: Optional[str] = typer.Option(None, "-c", "--cpu-shares", help="RUN's CPU weight."),
    cpu_period: Optional[str] = typer.Option(None, "--cpu-period", help="RUN's CPU period (microseconds)."),
    cpu_quota: Optional[str] = typer.Option(None, "--cpu-quota", help="RUN's CPU quota per period."),
    cpuset_cpus: Optional[str] = typer.Option(None, "--cpuset-cpus", help="The CPUs RUN may use."),
    cpuset_mems: Optional[str] = typer.Option(None, "--cpuset-mems", help="The memory nodes RUN may use."),
    http_proxy: bool = typer.Option(True, "--http-proxy/--no-http-proxy",
                                    help="Pass this environment's *_proxy variables to RUN (default)."),
    isolation: Optional[str] = typer.Option(None, "--isolation", help="oci or rootless (podpy's runtime), "
                                            "or chroot."),
    runtime_flags: List[str] = typer.Option([], "--runtime-flag", help="Accepted and recorded: podpy's runtime "
                                            "takes no flags."),
    # the build's own bookkeeping
    rm: bool = typer.Option(True, "--rm/--no-rm", help="Remove the working containers after a step (default)."),
    force_rm: bool = typer.Option(False, "--force-rm/--no-force-rm",
                                  help="Remove them even when the step fails (podpy always does)."),
    logfile: Optional[str] = typer.Option(None, "--logfile", help="Write the build's output to this file."),
    logsplit: bool = typer.Option(False, "--logsplit", help="With --logfile: each platform's output to "
                                                            "LOGFILE_OS_ARCH."),
    stdin: bool = typer.Option(False, "--stdin/--no-stdin", help="RUN reads this command's stdin."),
    compress: bool = typer.Option(False, "--compress/--no-compress", help="Accepted: no effect, as in podman."),
    disable_compression: bool = typer.Option(True, "-D", "--disable-compression/--no-disable-compression",
                                             help="Accepted: layers are stored uncompressed."),
) -> None:
    """Build an image from a Containerfile."""
    from ..imagebuild.executor import BuildOptions
    from ..imagebuild.executor import build as do_build

    pull, layers = _pull_and_layers(ctx, pull, pull_always, pull_never, layers)
    opts = BuildOptions(context=context, files=list(files), tags=list(tags), target=target,
                        build_args=list(build_args), build_arg_files=list(build_arg_files), no_cache=no_cache,
                        pull=pull or "missing", layers=layers, squash=squash, labels=list(labels),
                        secrets=list(secrets), format=fmt, quiet=quiet, iidfile=iidfile, network=network,
                        jobs=jobs, tls_verify=tls_verify, creds=creds, cert_dir=cert_dir, auth_file=authfile,
                        signature_policy=signature_policy, sign_by=sign_by, decryption_keys=list(decryption_keys),
                        annotations=list(annotations), env=list(env), unsetenv=list(unsetenv), arch=arch, os=os_,
                        variant=variant, platforms=list(platforms), os_features=list(os_features),
                        os_version=os_version, timestamp=timestamp, omit_history=omit_history,
                        identity_label=identity_label, squash_all=squash_all, from_=from_, manifest=manifest,
                        outputs=list(outputs), build_contexts=list(build_contexts), ignorefile=ignorefile,
                        cpp_flags=list(cpp_flags), skip_unused_stages=skip_unused_stages, retry=retry,
                        retry_delay=retry_delay, cache_ttl=cache_ttl, cache_from=cache_from, cache_to=cache_to,
                        ssh=list(ssh), uid_map=list(uid_map), gid_map=list(gid_map), uid_map_user=uid_map_user,
                        gid_map_group=gid_map_group, hooks_dirs=list(hooks_dirs),
                        add_hosts=list(add_hosts), no_hosts=no_hosts, group_add=list(group_add),
                        dns=list(dns), dns_options=list(dns_options), dns_search=list(dns_search),
                        cap_add=list(cap_add), cap_drop=list(cap_drop), security_opts=list(security_opts),
                        devices=list(devices), volumes=list(volumes), ulimits=list(ulimits), shm_size=shm_size,
                        ipc=ipc, pid=pid, uts=uts, cgroupns=cgroupns, userns=userns,
                        cgroup_parent=cgroup_parent, memory=memory,
                        memory_swap=memory_swap, cpu_shares=cpu_shares, cpu_period=cpu_period, cpu_quota=cpu_quota,
                        cpuset_cpus=cpuset_cpus, cpuset_mems=cpuset_mems, http_proxy=http_proxy,
                        isolation=isolation, runtime_flags=list(runtime_flags), rm=rm, force_rm=force_rm,
                        stdin=stdin)
    from ..errors import InvalidArgument
    from ..imagebuild.flags import platform, platforms_to_build
    from .app import remote_engine

    remote = remote_engine(ctx, "images", render.warn)
    if remote is not None:   # the context goes to the service, which builds (podpy/remote/build.py)
        with _logged(logfile) if logfile else contextlib.nullcontext():
            render.out(remote.build(opts, _say))
        return

    # several platforms are built one after another (a RUN step of another architecture needs a
    # binfmt_misc handler: imagebuild/platforms.py)
    values = platforms_to_build(list(platforms))
    rt = runtime(ctx)
    if all_platforms:   # buildah's rule: what every base image's manifest list offers (--platform aside)
        from ..imagebuild.platforms import all_platforms as offered

        values = offered(rt, opts, render.warn)
    runs = [[v] for v in values] if len(values) > 1 or all_platforms else [list(platforms)]
    if len(runs) > 1 and outputs:
        raise InvalidArgument("--output with several --platform values is not available: build one platform "
                              "at a time")
    # a tar written to stdout (-o -) keeps stdout to itself: the build's lines go to stderr
    tar_out = any(o == "-" or o.endswith(",dest=-") or ",dest=-," in o for o in outputs)
    say = _say_err if tar_out else _say
    split = bool(logfile and logsplit)
    # several platforms' images join --manifest's list once every one is built: a failure adds none
    deferred = opts.manifest if len(runs) > 1 else None
    if deferred:
        from ..imagebuild.output import add_to_manifest, check_manifest

        check_manifest(rt, deferred)
        opts = dataclasses.replace(opts, manifest=None)
    built = []
    with _logged(logfile) if logfile else contextlib.nullcontext():
        for one in runs:
            # podman's names: LOGFILE_OS_ARCH, empty parts for what was not given (LOGFILE__)
            p_os, p_arch, _ = platform(one, os_, arch, variant) if split else (None, None, None)
            prefix = f"[{one[0]}] " if len(runs) > 1 else ""
            with _logged(f"{logfile}_{p_os or ''}_{p_arch or ''}") if split else contextlib.nullcontext():
                image = do_build(rt, dataclasses.replace(opts, platforms=one),
                                 (lambda line, pre=prefix: say(pre + line)) if prefix else say,
                                 render.warn, render.err_line)
                built.append(image)
                if split and not tar_out:
                    render.out(image.id)
        if deferred:
            for each in built:
                add_to_manifest(rt, deferred, each)
        if not split and not tar_out:
            render.out(image.id)


def _pull_and_layers(ctx: typer.Context, pull: Optional[str], pull_always: bool, pull_never: bool,
                     layers: bool) -> tuple[Optional[str], bool]:
    """podman's checks of the flags that go together, and the pull policy and --layers they
    leave: --pull-always and --pull-never are --pull=always and --pull=never (one of the three
    at most); --squash goes neither with --layers nor with --squash-all; without --layers,
    BUILDAH_LAYERS (a Go boolean: 1, t, true, 0, f, false... any case) says."""
    from click.core import ParameterSource

    from ..errors import InvalidArgument

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)

    if sum(map(given, ("pull", "pull_always", "pull_never"))) > 1:
        raise InvalidArgument("can only set one of 'pull' or 'pull-always' or 'pull-never'")
    if given("squash") and (given("layers") or given("squash_all")):
        raise InvalidArgument("cannot specify --squash with --layers and --squash-all with --squash")
    if pull_always:
        pull = "always"
    elif pull_never:
        pull = "never"
    if not given("layers"):
        env = os.environ.get("BUILDAH_LAYERS", "")
        if env in ("1", "t", "T", "TRUE", "true", "True"):
            layers = True
        elif env in ("0", "f", "F", "FALSE", "false", "False"):
            layers = False
    return pull, layers


@contextlib.contextmanager
def _logged(path: str) -> Iterator[None]:
    """--logfile: the build's output, its warnings and its RUN steps' output go to the file
    instead of the terminal (an error that ends the build is still said on stderr)."""
    from ..errors import InvalidArgument

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise InvalidArgument(f"opening --logfile {path}: {exc.strerror}") from None
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


TOP = {"build": (build, {})}
