"""The systemd generator: Quadlet files in podpy's directories -> service units.

systemd runs generators very early (before /home may be usable, with no journal yet), so
this module imports only the standard library and podpy.quadlet; a generator's run on 50
files takes a few tens of milliseconds (bench/quadlet.py).

Where podman's Quadlet drops a unit for a problem in its file and says so only in the
kernel log, this generator still writes the unit, with ExecStartPre= lines that print the
problems and fail: `systemctl --user start` fails and `systemctl --user status` shows why.
`-dryrun` prints every problem on stderr and every unit on stdout.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, TextIO

from .common import Conversion, Fatal, UnitInfo, extension, resource_name, service_name
from .keys import TYPES
from .unitfile import UnitFile, UnitSyntaxError, join_command, literal

ADMIN_DIR = "/etc/podpy/systemd"
USERS_DIR = ADMIN_DIR + "/users"
DISTRO_DIR = "/usr/share/podpy/systemd"
FAIL_ECHO = "/bin/echo"
FAIL_FALSE = "/bin/false"


# -- where the files are ----------------------------------------------------------------------

def unit_dirs(user: bool, env: Optional[dict[str, str]] = None, uid: Optional[int] = None) -> list[str]:
    """The directories searched, highest priority first (a file name found in one hides the
    same name in those after it): QUADLET_UNIT_DIRS when set; for a user, its own
    $XDG_CONFIG_HOME/podpy/systemd, then /etc/podpy/systemd/users/UID, then
    /etc/podpy/systemd/users; for the system, /etc/podpy/systemd (not its users/ directory)
    and /usr/share/podpy/systemd. Each with its subdirectories."""
    env = os.environ if env is None else env
    uid = os.getuid() if uid is None else uid
    override = env.get("QUADLET_UNIT_DIRS", "")
    if override:
        dirs: list[str] = []
        for d in override.split(":"):
            if not os.path.isabs(d):
                raise ValueError(f"QUADLET_UNIT_DIRS: {d!r} is not an absolute path")
            dirs += _with_subdirs(d)
        return dirs
    if user:
        config = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
        dirs = _with_subdirs(os.path.join(config, "podpy", "systemd"))
        dirs += _with_subdirs(os.path.join(USERS_DIR, str(uid)))
        # other users' numbered directories are theirs: not searched
        dirs += _with_subdirs(USERS_DIR, skip=lambda top, name: top == USERS_DIR and name.isdigit())
        return dirs
    return (_with_subdirs(ADMIN_DIR, skip=lambda top, name: top == ADMIN_DIR and name == "users")
            + _with_subdirs(DISTRO_DIR))


def _with_subdirs(top: str, skip: Optional[Callable[[str, str], bool]] = None) -> list[str]:
    out = [top]
    real = os.path.realpath(top)
    try:
        for dirpath, dirnames, _files in os.walk(real, followlinks=True):
            dirnames.sort()
            if skip is not None:
                here = top if dirpath == real else dirpath
                dirnames[:] = [d for d in dirnames if not skip(here, d)]
            out += [os.path.join(dirpath, d) for d in dirnames if not d.endswith(".d")]
            dirnames[:] = [d for d in dirnames if not d.endswith(".d")]
    except OSError:
        pass
    return out


# -- loading ----------------------------------------------------------------------------------

class Result:
    """What a run made: unit file name -> text, the enabling symlinks, problems by file."""

    def __init__(self) -> None:
        self.units: dict[str, str] = {}
        self.symlinks: list[tuple[str, str]] = []      # (link path, target), relative
        self.problems: dict[str, list[str]] = {}
        self.sources: dict[str, str] = {}              # service file -> Quadlet file
        self.unreadable: set[str] = set()              # files that did not parse
        self.warnings: list[str] = []                  # said, but the unit is not failed for them


def load_units(dirs: list[str], result: Result) -> list[UnitFile]:
    seen: set[str] = set()
    units: list[UnitFile] = []
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            if name in seen or extension(name) not in TYPES:
                continue
            path = os.path.join(d, name)
            if os.path.isdir(path):
                continue
            seen.add(name)
            text, problem = _read_instance(path, name)
            unit = UnitFile(name, path)
            try:
                unit.merge_text(text, name)
            except UnitSyntaxError as exc:
                result.problems.setdefault(name, []).append(str(exc))
                result.unreadable.add(name)
                unit.sections.clear()
            if problem:
                result.problems.setdefault(name, []).append(problem)
            _merge_dropins(unit, dirs, result)
            units.append(unit)
    return units


def _read_instance(path: str, name: str) -> tuple[str, str]:
    """A file's text; an instance of a template (web@a.container) that is empty, or missing
    its target, takes its template's (web@.container in the same directory)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        base = template_base(name)
        if base and os.path.exists(os.path.join(os.path.dirname(path), base)):
            return _read_instance(os.path.join(os.path.dirname(path), base), base)
        return "", f"cannot read {path}: {exc.strerror}"
    base = template_base(name)
    if not text.strip() and base and base != name:
        template = os.path.join(os.path.dirname(path), base)
        if os.path.exists(template):
            return _read_instance(template, base)
    return text, ""


def template_base(name: str) -> str:
    """web@a.container -> web@.container; '' for a name that is no template or instance."""
    prefix, at, rest = name.partition("@")
    if not at or "." not in rest:
        return ""
    return f"{prefix}@.{rest.rpartition('.')[2]}"


def dropin_dirs(name: str, dirs: list[str]) -> list[str]:
    """The drop-in directories of a file, highest priority first: NAME.d, its template's,
    its dash-prefixes' (foo-bar-baz.container: foo-bar-.container.d, foo-.container.d), and
    its type's (container.d), each in every unit directory."""
    ext = extension(name)
    names = [name + ".d"]
    base = template_base(name)
    if base and base != name:
        names.append(base + ".d")
    parts = os.path.splitext(base or name)[0].rstrip("@").split("-")
    for i in range(len(parts) - 1, 0, -1):
        names.append("-".join(parts[:i]) + "-" + ext + ".d")
    names.append(ext[1:] + ".d")
    return [os.path.join(d, n) for n in names for d in dirs]


def _merge_dropins(unit: UnitFile, dirs: list[str], result: Result) -> None:
    chosen: dict[str, str] = {}
    for d in dropin_dirs(unit.filename, dirs):
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            if n.endswith(".conf") and n not in chosen:
                chosen[n] = os.path.join(d, n)
    for n in sorted(chosen):
        path = chosen[n]
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                unit.merge_text(f.read(), os.path.join(os.path.basename(os.path.dirname(path)), n))
        except (OSError, UnitSyntaxError) as exc:
            result.problems.setdefault(unit.filename, []).append(str(exc))


# -- converting -------------------------------------------------------------------------------

def convert_all(units: list[UnitFile], user: bool, podpy: list[str], result: Result) -> list[UnitFile]:
    from .container import convert_container
    from .resources import (convert_build, convert_image, convert_kube, convert_network, convert_pod,
                            convert_volume)

    converters = {".container": convert_container, ".volume": convert_volume, ".network": convert_network,
                  ".kube": convert_kube, ".image": convert_image, ".build": convert_build, ".pod": convert_pod}
    infos = {u.filename: UnitInfo(u.filename, service_name(u), resource_name(u)) for u in units}
    services: list[UnitFile] = []
    for unit in sorted(units, key=lambda u: TYPES[extension(u.filename)][3]):
        c = Conversion(unit, infos, user, podpy)
        c.problems += result.problems.pop(unit.filename, [])
        c.check_keys()
        try:
            if unit.filename in result.unreadable:
                raise Fatal("")          # said already: its syntax error
            c.start_service()
            converters[extension(unit.filename)](c)
        except Fatal as exc:
            if str(exc):
                c.problems.append(str(exc))
            c.service = _stub(c)
        c.collect_bad_values()
        result.warnings += c.warnings
        if c.problems:
            _fail_at_start(c)
            result.problems[unit.filename] = c.problems
        services.append(c.service)
        result.sources[c.service.filename] = unit.path or unit.filename
    _check_cycles(services, infos, result)
    return services


def _stub(c: Conversion) -> UnitFile:
    """The service of a file that cannot be converted: its [Unit] and [Install], and a start
    that fails (the problems are added by _fail_at_start)."""
    stub = UnitFile(c.service.filename, c.unit.path)
    for s in c.unit.sections:
        if s.name in ("Unit", "Install"):
            for line in s.lines:
                stub.add(s.name, line.key, line.value)
    if c.unit.path:
        stub.add("Unit", "SourcePath", c.unit.path)
    for s in c.unit.sections:
        if s.name not in ("Unit", "Install", "Service"):
            for line in s.lines:
                stub.add("X-" + s.name if not s.name.startswith("X-") else s.name, line.key, line.value)
    stub.add("Service", "Type", "oneshot")
    stub.add("Service", "ExecStart", FAIL_FALSE)
    return stub


def _fail_at_start(c: Conversion) -> None:
    """ExecStartPre= lines, before any other, that print each problem and fail the start."""
    svc = c.service.section("Service", create=True)
    assert svc is not None
    from .unitfile import Line

    lines = [Line("ExecStartPre", join_command([FAIL_ECHO, literal(f"podpy quadlet: {p}")])) for p in c.problems]
    lines.append(Line("ExecStartPre", FAIL_FALSE))
    svc.lines[:0] = lines


def _check_cycles(services: list[UnitFile], infos: dict[str, UnitInfo], result: Result) -> None:
    """An ordering cycle among the generated services (After=/Before= between them) is a
    problem of each file in it: systemd would break it by dropping a job at random."""
    ours = {s.filename: s for s in services}
    after: dict[str, set[str]] = {name: set() for name in ours}
    for s in services:
        for value in s.lookup_all("Unit", "After"):
            after[s.filename] |= {w for w in value.split() if w in ours}
        for value in s.lookup_all("Unit", "Before"):
            for w in value.split():
                if w in ours:
                    after[w].add(s.filename)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(after[name]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(after):
        if name not in state:
            visit(name)
    by_service = {info.service_file: info.filename for info in infos.values()}
    for cycle in cycles:
        files = [by_service.get(n, n) for n in cycle]
        text = "dependency cycle: " + " -> ".join(files)
        for name in set(cycle):
            quadlet = by_service.get(name, name)
            problems = result.problems.setdefault(quadlet, [])
            if text not in problems:
                problems.append(text)
                svc = ours[name].section("Service", create=True)
                assert svc is not None
                from .unitfile import Line

                svc.lines[:0] = [Line("ExecStartPre", join_command([FAIL_ECHO, literal(f"podpy quadlet: {text}")])),
                                 Line("ExecStartPre", FAIL_FALSE)]


def install_symlinks(service: UnitFile) -> list[tuple[str, str]]:
    """[Install]'s WantedBy=, RequiredBy= and Alias= as links in the output directory (what
    `systemctl enable` would make, which cannot be used on generated units). A template
    without DefaultInstance= is enabled only through its instances."""
    links: list[tuple[str, str]] = []
    for alias in service.lookup_all_words("Install", "Alias"):
        links.append((os.path.normpath(alias), service.filename))
    name = service.filename
    base = template_base(name)
    if base and base == name:
        default = service.lookup("Install", "DefaultInstance")
        name = name.replace("@.", f"@{default}.") if default else ""
    if name:
        for key, kind in (("WantedBy", "wants"), ("RequiredBy", "requires"), ("UpheldBy", "upholds")):
            for target in service.lookup_all_words("Install", key):
                if "/" not in target:
                    links.append((f"{target}.{kind}/{name}", f"../{service.filename}"))
    return links


def generate(dirs: list[str], user: bool, podpy: list[str]) -> Result:
    result = Result()
    units = load_units(dirs, result)
    for service in convert_all(units, user, podpy, result):
        header = ("", f"Automatically generated by podpy quadlet from {result.sources[service.filename]}", "")
        result.units[service.filename] = service.text(header)
        result.symlinks += install_symlinks(service)
    return result


def write(result: Result, outdir: str) -> None:
    # written in place, as podman's generator does: systemd empties the directory before it
    # runs the generators and reads it once they have all exited
    os.makedirs(outdir, exist_ok=True)
    for name, text in result.units.items():
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            f.write(text)
    for link, target in result.symlinks:
        path = os.path.join(outdir, link)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.symlink(target, path)


# -- the podpy the units run --------------------------------------------------------------------

def podpy_command(argv0: Optional[str] = None, env: Optional[dict[str, str]] = None) -> list[str]:
    """The absolute command line of podpy the units run: $PODPY_BINARY when set; else the
    program this is (the zipapp, the installed `podpy`, or the generator symlinked to either),
    with links resolved; `python -m podpy` gives the interpreter and -m podpy."""
    env = os.environ if env is None else env
    if env.get("PODPY_BINARY"):
        return [os.path.abspath(env["PODPY_BINARY"])]
    argv0 = sys.argv[0] if argv0 is None else argv0
    if os.path.basename(argv0) == "__main__.py" or not argv0 or argv0 == "-c":
        return [sys.executable, "-m", "podpy"]
    return [os.path.realpath(argv0)]


# -- the command line -------------------------------------------------------------------------

FLAGS = {"dryrun": "print the units and every problem, write nothing",
         "user": "generate user units (the default when run as podpy-user-generator)",
         "no-kmsg-log": "log to stderr, not /dev/kmsg",
         "v": "log what is done",
         "version": "print the version"}


class UsageError(Exception):
    pass


def parse_flags(args: list[str]) -> tuple[dict[str, bool], list[str]]:
    """Go's flag parsing, as podman's generator has it: -flag or --flag, -flag=true/false,
    flags before the positional arguments (the first of which, or --, ends them)."""
    flags = {name: False for name in FLAGS}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.lstrip("-").partition("=")
        if arg.startswith("---") or name not in flags:
            raise UsageError(f"flag provided but not defined: {arg.split('=')[0]}")
        if eq:
            v = value.lower()
            if v not in ("1", "t", "true", "0", "f", "false"):
                raise UsageError(f'invalid boolean value "{value}" for -{name}: parse error')
            flags[name] = v in ("1", "t", "true")
        else:
            flags[name] = True
        i += 1
    return flags, args[i:]


def usage(prog: str) -> str:
    lines = [f"Usage: {prog} [-dryrun] [-user] [-no-kmsg-log] [-v] [-version] OUTPUT_DIR [EARLY_DIR] [LATE_DIR]"]
    lines += [f"  -{name}\n    \t{text}" for name, text in FLAGS.items()]
    return "\n".join(lines) + "\n"


def _isatty(stream: "TextIO") -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Logger:
    """Messages go to /dev/kmsg (the only log a generator has at boot) unless -no-kmsg-log or
    -dryrun, or /dev/kmsg cannot be written: then to stderr (and to both from a terminal)."""

    def __init__(self, stderr: TextIO, kmsg: bool, verbose: bool) -> None:
        self.stderr, self.verbose = stderr, verbose
        self.kmsg = None
        if kmsg:
            try:
                self.kmsg = open("/dev/kmsg", "w")
            except OSError:
                self.kmsg = None

    def log(self, text: str) -> None:
        line = f"podpy-quadlet[{os.getpid()}]: {text}"
        if self.kmsg is not None:
            try:
                self.kmsg.write(line + "\n")
                self.kmsg.flush()
                if not _isatty(self.stderr):    # run from a terminal: shown there too
                    return
            except OSError:
                self.kmsg = None
        self.stderr.write(line + "\n")
        self.stderr.flush()

    def debug(self, text: str) -> None:
        if self.verbose:
            self.log(text)


def main(args: list[str], prog: str = "podpy quadlet", stdout: "Optional[TextIO]" = None,
         stderr: "Optional[TextIO]" = None) -> int:
    """Run the generator; 0 when every file converted cleanly, 1 when any had a problem (its
    unit is written all the same, failing at start), 2 for a bad command line."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    if args and args[0].lstrip("-") in ("h", "help") and args[0].startswith("-"):
        stderr.write(usage(prog))        # Go's -h and -help: the usage, and success
        return 0
    try:
        flags, positional = parse_flags(args)
    except UsageError as exc:
        stderr.write(f"{exc}\n{usage(prog)}")
        return 2
    if flags["version"]:
        from .. import __version__

        stdout.write(f"{__version__}\n")
        return 0
    dryrun = flags["dryrun"]
    user = flags["user"] or "user" in os.path.basename(prog)
    logger = Logger(stderr, kmsg=not (flags["no-kmsg-log"] or dryrun), verbose=flags["v"] or dryrun)
    if not dryrun and not positional:
        logger.log("missing output directory argument")
        return 1
    try:
        dirs = unit_dirs(user)
    except ValueError as exc:
        logger.log(str(exc))
        return 1
    logger.debug(f"searching {':'.join(dirs)}" + ("" if dryrun else f", writing to {positional[0]}"))
    result = generate(dirs, user, podpy_command())
    if not result.units:
        logger.debug(f"no files found in {':'.join(dirs)}")
    for warning in result.warnings:
        logger.log(f"warning: {warning}")
    failed = False
    for name in sorted(result.problems):
        for problem in result.problems[name]:
            failed = True
            logger.log(f"{problem} (the unit is generated and fails at start)" if not dryrun else problem)
    if dryrun:
        for name in sorted(result.units):
            stdout.write(f"---{name}---\n{result.units[name]}\n")
        stdout.flush()
        return 1 if failed else 0
    try:
        write(result, positional[0])
    except OSError as exc:
        logger.log(f"writing {positional[0]}: {exc.strerror}")
        return 1
    for name in sorted(result.units):
        logger.debug(f"wrote {os.path.join(positional[0], name)}")
    return 1 if failed else 0
