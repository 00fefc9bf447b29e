"""What podpy refuses of podman 4.3.1's command line, and why: one table for every front of the CLI.

A podman command or flag that podpy does not have is refused here with a one-line reason,
which podpy prints (`Error: podpy ps --sort: not available yet`, exit 125) instead of
"unknown flag": a script written for podman learns what is missing and why. Everything
else of podman's command line is accepted by podpy's parsers (tests/unit/test_cli_contract.py
checks both against podman's own --help output, kept in tests/unit/podman_cli.json).

COMMANDS: a command path ("pod", "container checkpoint") -> reason; a refused group refuses
every subcommand and flag under it. FLAGS: a command path -> {flags -> reason}, where the
flags are podman's long name and, when it has one, its short one ("-l/--latest"); "" is
the global flags. PODPY_ONLY: podpy's own commands, which podman 4.3.1 does not have. SAME:
podman's second names of one command (`container rm` is `rm`), which share its refusals. The
run/create/exec parser (runargs.py) consults FLAGS only for a flag it does not know, and typer's commands get these flags as hidden options that refuse
(tree.py), so a flag podpy comes to accept must leave this table (the test says so).

No imports: the run path reads it only when a command line has a flag it does not know.
"""

NOT_YET = "not available yet"
LATEST = NOT_YET

COMMANDS = {
    "container checkpoint": "checkpointing needs CRIU with root privileges; podpy runs containers without them",
    "container restore": "restoring needs CRIU with root privileges; podpy runs containers without them",
    "machine": "out of scope: podpy runs containers on this Linux host and manages no virtual machines",
    "system migrate": "out of scope: podpy's database updates itself when a newer podpy opens it",
    "system renumber": "out of scope: podpy has no lock numbers to renumber (SQLite locks the rows)",
}

FLAGS: dict[str, dict[str, str]] = {}

# podman's second names of a command -> the first (their flags are the same in podman 4.3.1)
SAME = {
    "generate kube": "kube generate",
    "container attach": "attach", "container commit": "commit", "container cp": "cp", "container create": "create",
    "container diff": "diff", "container exec": "exec", "container export": "export", "container kill": "kill",
    "container list": "ps", "container ls": "ps", "container ps": "ps", "container logs": "logs",
    "container init": "init", "container pause": "pause", "container port": "port", "container rename": "rename",
    "container restart": "restart", "container rm": "rm", "container run": "run", "container start": "start",
    "container stats": "stats", "container stop": "stop", "container top": "top", "container unpause": "unpause",
    "container wait": "wait", "image build": "build", "image history": "history", "image import": "import",
    "image list": "images", "image ls": "images", "image load": "load", "image pull": "pull", "image push": "push",
    "image rm": "rmi", "image save": "save", "image tag": "tag", "image untag": "untag", "system info": "info",
    "network remove": "network rm", "volume remove": "volume rm", "volume list": "volume ls",
    "pod ls": "pod ps", "pod list": "pod ps",
}

# podpy's own commands, which podman 4.3.1 does not have, and what each is for (the contract
# test checks that every other command of podpy's is one of podman's)
PODPY_ONLY = {
    "compose": "podman 4.7's command: a compose provider (docker-compose, podman-compose) run against a "
               "podpy API service of its own, on a private socket for its duration",
    "system doctor": "checks what this host lets the user run, and names the fix of each problem",
    "quadlet": "generates systemd units from Quadlet files (podman 4.4's generator, with podpy's directories)",
    "system check": "podman 5's command: the store's database checked against its files, and rebuilt "
                    "from them with --repair",
}


# podpy's flags that podman 4.3.1's --help does not list, and why each is there (the contract
# test checks that every other flag of podpy's is one of podman's: an extra flag is on purpose)
HIDDEN = "podman 4.3.1 takes it too, without listing it in its --help"
LATER = "a later podman's flag"
QUADLET = "podman 5's flag, which the units made from Quadlet files use"
PODPY_FLAGS = {
    "": {"--module": "podman 4.8's flag, which the units made from Quadlet files use (ContainersConfModule=)"},
    "auto-update": {"--tls-verify": LATER},
    "build": {"--build-arg-file": LATER, "--group-add": QUADLET, "--signature-policy": HIDDEN,
              "--pull-always": HIDDEN, "--pull-never": HIDDEN},
    "container runlabel": {"--opt1": HIDDEN, "--opt2": HIDDEN, "--opt3": HIDDEN},
    "cp": {"--pause": HIDDEN},
    "create": {"--detach": "`run`'s flag: podpy parses run and create alike, and create ignores it",
               "--dns-opt": HIDDEN, "--gpus": HIDDEN, "--kernel-memory": HIDDEN, "--net": HIDDEN,
               "--preserve-fds": LATER,
               "--signature-policy": HIDDEN,
               **{f: QUADLET for f in ("--retry", "--retry-delay", "--health-log-destination",
                                       "--health-max-log-count", "--health-max-log-size")},
               **{f"--health-startup-{k}": QUADLET for k in ("cmd", "interval", "retries", "success", "timeout")}},
    "events": {"--stream": HIDDEN},
    "generate systemd": {"--time": HIDDEN},
    "image trust set": {"--policypath": HIDDEN},
    "image trust show": {"--policypath": HIDDEN, "--registrypath": HIDDEN},
    "kube down": {"--force": QUADLET},
    "kube generate": {"--replicas": LATER, "--type": LATER},
    "kube play": {"--down": HIDDEN, "--net": HIDDEN, "--publish": LATER,
                  "--strict": "podpy's own: refuse a file with fields podpy does not use",
                  "--force": QUADLET, "--service-container": QUADLET, "--service-exit-code-propagation": QUADLET},
    "mount": {"--notruncate": HIDDEN},
    "network create": {"--ignore": LATER, "--dns": QUADLET, "--interface-name": QUADLET},
    "pod create": {"--dns-opt": HIDDEN, "--net": HIDDEN},
    "pull": {"--retry": QUADLET, "--retry-delay": QUADLET, "--signature-policy": HIDDEN,
             "--decryption-key": "podman 5's flag: the keys of encrypted layers, as build's --decryption-key"},
    "restart": {"--timeout": "stop's second spelling of --time, which podman 4.3.1's stop takes"},
    "search": {"--cert-dir": LATER, "--creds": LATER},
    "stop": {"--timeout": HIDDEN},
    "volume create": {"--ignore": LATER},
    "wait": {"--ignore": LATER},
}
PODPY_FLAGS["image search"] = PODPY_FLAGS["search"]
PODPY_FLAGS["run"] = {f: why for f, why in PODPY_FLAGS["create"].items() if f not in ("--detach", "--preserve-fds")}


def podpy_flags(path: str) -> dict[str, str]:
    """PODPY_FLAGS of the command at path, or of the command it is a second name of
    (`container mount` is `mount`, `image pull` is `pull`)."""
    if path in PODPY_FLAGS:
        return PODPY_FLAGS[path]
    if path in SAME:
        return PODPY_FLAGS.get(SAME[path], {})
    group, _, rest = path.partition(" ")
    return PODPY_FLAGS.get(rest, {}) if group == "container" and rest else {}


def refused_command(path: str) -> "tuple[str, str] | None":
    """(the refused command, its reason) for the command at path: path itself, or the group it
    is in (`generate spec` has a reason of its own, `pod create` is refused with `pod`)."""
    words = path.split()
    for n in range(len(words), 0, -1):
        reason = COMMANDS.get(" ".join(words[:n]))
        if reason is not None:
            return " ".join(words[:n]), reason
    return None


def command_refusal(path: str) -> "str | None":
    """The reason podpy refuses the command at path (or the group it is in); None if it does not."""
    found = refused_command(path)
    return found[1] if found else None


def flag_refusals(path: str) -> dict[str, str]:
    """The refused flags of the command at path: each name (long and short) -> reason."""
    table = FLAGS.get(SAME.get(path, path), {})
    return {name: reason for names, reason in table.items() for name in names.split("/")}


def flag_refusal(path: str, flag: str) -> "str | None":
    return flag_refusals(path).get(flag)


def message(path: str, what: str, reason: str) -> str:
    """The one line podpy prints for a refusal: `podpy ps --sort: not available yet`."""
    return " ".join(w for w in ("podpy", path, what) if w) + f": {reason}"


def readme_lines() -> list[str]:
    """The README's list of every refusal, made from these tables (the unit test checks that the
    README holds exactly these lines)."""
    lines = [f"- `podpy {path}`: {reason}" for path, reason in sorted(COMMANDS.items())]
    lines.append("")
    for path in sorted(FLAGS):
        by_reason: dict[str, list[str]] = {}
        for names, reason in FLAGS[path].items():
            by_reason.setdefault(reason, []).append(names)
        parts = [", ".join(f"`{n}`" for n in sorted(names, key=lambda n: n.split("/")[-1])) + f": {reason}"
                 for reason, names in sorted(by_reason.items(), key=lambda item: -len(item[1]))]
        lines.append(f"- `{' '.join(w for w in ('podpy', path) if w)}`: " + "; ".join(parts))
    return lines
