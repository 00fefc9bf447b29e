"""Write podman's command line (every command, alias and flag) as JSON, from its --help.

Run once against the reference podman and commit the output as podman_cli.json:

    python3 tests/unit/podman_cli_dump.py > tests/unit/podman_cli.json

test_cli_contract.py reads that file; it never runs podman itself. Hidden commands do
not appear in `podman help`; the ones podpy answers for (`completion`) are listed in
HIDDEN and dumped too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

HIDDEN = (["completion"],)


def _help(path: list[str]) -> str:
    return subprocess.run(["podman", *path, "--help"], capture_output=True, text=True, check=True).stdout


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]+):\s*$", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def _walk(path: list[str], table: dict[str, dict]) -> None:
    s = _sections(_help(path))
    subs = [m.group(1) for line in s.get("Available Commands", []) if (m := re.match(r"^  (\S+)\s", line))]
    flags = {}
    for line in s.get("Options", []):
        m = re.match(r"^\s+(?:(-\w), )?(--[\w-]+)", line)
        if m:
            flags[m.group(2)] = m.group(1) or ""
    aliases: list[str] = []
    for line in s.get("Aliases", [])[:1]:
        aliases = [a.strip() for a in line.split(",") if a.strip() and a.strip() != (path or [""])[-1]]
    table[" ".join(path)] = {"flags": flags, "aliases": aliases, "commands": subs}
    for sub in subs:
        if sub != "help":
            _walk(path + [sub], table)


def main() -> int:
    version = subprocess.run(["podman", "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    table: dict[str, dict] = {}
    _walk([], table)
    for path in HIDDEN:
        _walk(list(path), table)
    json.dump({"podman": version, "commands": table}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
