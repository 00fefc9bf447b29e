"""What every Quadlet file's conversion shares: the names of the services and resources files
refer to (UnitInfo), the problems found on the way, the service unit's start (the file's own
sections copied, dependencies on other Quadlet files translated, the source section renamed
X-...), and the podpy command line every Exec line starts with."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

from .keys import PASSED_THROUGH, QUADLET, TYPES, UNIT_DEPENDENCY_KEYS, USER_WAIT_NETWORK
from .unitfile import Line, UnitFile


class Fatal(Exception):
    """A problem that leaves nothing to run (no Image=, a file that is referred to but missing)."""


class UnitInfo:
    """What other files need to know about one: its service's name and its resource's name."""

    def __init__(self, filename: str, service_name: str, resource_name: str = "") -> None:
        self.filename, self.service_name, self.resource_name = filename, service_name, resource_name
        self.containers_to_start: list[str] = []

    @property
    def service_file(self) -> str:
        return f"{self.service_name}.service"


def extension(filename: str) -> str:
    return os.path.splitext(filename)[1]


def stem(filename: str) -> str:
    return os.path.splitext(filename)[0]


def service_name(unit: UnitFile) -> str:
    section, _keys, suffix, _order = TYPES[extension(unit.filename)]
    return unit.lookup(section, "ServiceName") or stem(unit.filename) + suffix


def container_name(unit: UnitFile) -> str:
    """The container's name as the unit gives it to podpy (with % specifiers for systemd)."""
    name = unit.lookup("Container", "ContainerName")
    if name:
        return name
    return "systemd-%p_%i" if "@" in unit.filename else "systemd-%N"


def resource_name(unit: UnitFile) -> str:
    """The name of what the file makes (network, volume, pod, image, container); empty when it
    depends on systemd's specifiers (a template's %i)."""
    ext = extension(unit.filename)
    if ext == ".container":
        name = container_name(unit).replace("%N", service_name(unit))
        return "" if "%" in name else name
    if ext in (".volume", ".network", ".pod"):
        key = {".volume": "VolumeName", ".network": "NetworkName", ".pod": "PodName"}[ext]
        return unit.lookup(TYPES[ext][0], key) or "systemd-" + stem(unit.filename)
    if ext == ".image":
        return unit.lookup("Image", "ImageTag") or unit.value("Image", "Image")
    if ext == ".build":
        tags = unit.lookup_all("Build", "ImageTag")
        return tags[0] if tags else ""
    return ""


class Conversion:
    """One file's conversion: the service unit being made, its problems, the others' names."""

    def __init__(self, unit: UnitFile, infos: dict[str, UnitInfo], user: bool, podpy: list[str]) -> None:
        self.unit = unit
        self.infos = infos
        self.user = user
        self.podpy = podpy
        self.section = TYPES[extension(unit.filename)][0]
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.info = infos[unit.filename]
        self.service = unit.copy(self.info.service_file)

    # -- problems -----------------------------------------------------------------------

    def problem(self, text: str, line: Optional[Line] = None) -> None:
        self.problems.append(f"{text} in {self._where(line)}")

    def _where(self, line: Optional[Line]) -> str:
        if line is None or not line.where:
            return self.unit.filename
        return f"{line.where}, line {line.lineno}"

    def key_problem(self, key: str, reason: str) -> None:
        line = self.unit.lookup_line(self.section, key)
        self.problems.append(f"{key}={line.value if line else ''}: {reason} in [{self.section}] of {self._where(line)}")

    def check_keys(self) -> None:
        """Unknown keys of the file's section and [Quadlet], unknown sections."""
        keys = TYPES[extension(self.unit.filename)][1]
        for s in self.unit.sections:
            if s.name in (self.section, "Quadlet"):
                known = keys if s.name == self.section else QUADLET
                for line in s.lines:
                    if line.key not in known:
                        self.problems.append(f"unknown key {line.key}= in [{s.name}] of {self._where(line)}"
                                             + _suggestion(line.key, known))
            elif s.name not in PASSED_THROUGH and not s.name.startswith("X-"):
                first = s.lines[0] if s.lines else None
                expected = sorted({self.section, *PASSED_THROUGH, "Quadlet"})
                self.problems.append(f"unknown section [{s.name}] in {self._where(first)}"
                                     + _suggestion(s.name, expected, "[", "]"))

    def collect_bad_values(self) -> None:
        for bad in self.unit.bad_values:
            self.problems.append(f"{bad.line.key}={bad.line.value}: {bad.reason} in [{bad.section}] of "
                                 f"{self._where(bad.line)}")
        self.unit.bad_values.clear()

    # -- the service --------------------------------------------------------------------

    def start_service(self) -> None:
        """The file's sections, copied (done in __init__), with [Unit] dependencies on Quadlet
        files translated, the wait for the network, SourcePath, and the section renamed X-..."""
        svc = self.service
        for key in UNIT_DEPENDENCY_KEYS:
            lines = svc.all_lines("Unit", key)
            if not any(extension(w) in TYPES for line in lines for w in line.value.split()):
                continue
            names = []
            for line in lines:
                for word in line.value.split():
                    if extension(word) in TYPES:
                        info = self.infos.get(word)
                        if info is None:
                            self.problems.append(f"{key}={line.value}: {word} is not a Quadlet file found in "
                                                 f"the unit directories in [Unit] of {self._where(line)}")
                            continue
                        word = info.service_file
                    names.append(word)
            svc.unset("Unit", key)
            svc.add("Unit", key, " ".join(names))
        wait = self.unit.lookup_bool("Quadlet", "DefaultDependencies")
        if wait is not False:
            # podman 5.3's way for user units: the system's network-online.target cannot be a
            # user unit's dependency, so a bounded user service waits for it
            target = USER_WAIT_NETWORK if self.user else "network-online.target"
            svc.prepend("Unit", "After", target)
            svc.prepend("Unit", "Wants", target)
        if self.unit.path:
            svc.add("Unit", "SourcePath", self.unit.path)
        svc.add("Unit", "RequiresMountsFor", "%t/podpy")
        svc.rename_section(self.section, "X-" + self.section)
        svc.rename_section("Quadlet", "X-Quadlet")

    def base_command(self) -> list[str]:
        """podpy with the file's ContainersConfModule= and GlobalArgs=."""
        argv = list(self.podpy)
        argv += [f"--module={m}" for m in self.unit.lookup_all(self.section, "ContainersConfModule")]
        argv += self.unit.lookup_all_words(self.section, "GlobalArgs")
        return argv

    def require(self, info: UnitInfo, ordering: str = "Requires") -> None:
        self.service.add("Unit", ordering, info.service_file)
        self.service.add("Unit", "After", info.service_file)

    def referenced(self, name: str, key: str) -> UnitInfo:
        info = self.infos.get(name)
        if info is None:
            line = self.unit.lookup_line(self.section, key)
            raise Fatal(f"{key}={line.value if line else name}: {name} is not a Quadlet file found in the unit "
                        f"directories in [{self.section}] of {self._where(line)}")
        return info

    def absolute(self, path: str) -> str:
        """A path relative to the file's directory made absolute (one that starts with a
        specifier is systemd's to expand)."""
        if path.startswith("%") and not path.startswith("%%"):
            return path
        if os.path.isabs(path):
            return path
        base = os.path.dirname(self.unit.path) if self.unit.path else os.getcwd()
        return os.path.normpath(os.path.join(base, path))

    def set_default(self, key: str, value: str) -> None:
        if not self.service.has("Service", key):
            self.service.set("Service", key, value)

    def oneshot(self, remain: bool) -> None:
        self.set_default("SyslogIdentifier", "%N")
        self.set_default("Type", "oneshot")
        if remain:
            self.set_default("RemainAfterExit", "yes")


def _suggestion(word: str, known, before: str = "", after: str = "=") -> str:  # type: ignore[no-untyped-def]
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.7)
    if not close:
        lower = [k for k in known if k.lower() == word.lower()]
        close = lower[:1]
    return f" (did you mean {before}{close[0]}{after}?)" if close else ""
