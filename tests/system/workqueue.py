"""Several pytest processes sharing one run of the system tests (PODPY_TEST_QUEUE=DIR).

Each process collects every test, in pytest's order (tests that share a session-scoped
parameter, such as the podpy variant, are next to each other), and cuts that order into
chunks: the runs of consecutive tests of one file. A process runs a chunk only once it has
claimed it, by making the chunk's file in DIR (O_EXCL: exactly one process wins); it skips
the chunks others claimed. So the processes take the next unclaimed chunk as they become
free, whatever each chunk takes, and every test runs exactly once. Each process keeps its
own session fixtures (stores, registry, the podman comparisons), runtime directory and
temporary directory: they share nothing but DIR.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

ENV = "PODPY_TEST_QUEUE"
# How long each file's tests took in a whole run (seconds): the longest chunks are handed out
# first, so that no process is left with a long file at the end while the others wait.
# Refresh with: python3 tests/system/workqueue.py JUNIT.xml... (pytest --junitxml of a run).
HINTS = Path(__file__).with_name("durations.json")
UNKNOWN = 30.0   # a file not in the hints yet


def _session_params(item) -> tuple:
    """The session-scoped parameters the test uses (e.g. which podpy it runs): tests that
    differ in them must not be interleaved, or the session fixtures are set up again."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ()
    scopes = getattr(callspec, "_arg2scope", {})
    return tuple(sorted((k, str(v)) for k, v in callspec.params.items()
                        if str(getattr(scopes.get(k), "value", scopes.get(k))).lower().endswith("session")))


def _chunks(items: list) -> list[list]:
    """pytest's order cut into runs of one file's tests; within each stretch of tests with the
    same session parameters, the chunks by their expected time, longest first."""
    out: list[list] = []
    for item in items:
        if out and out[-1][0].path == item.path and _session_params(out[-1][0]) == _session_params(item):
            out[-1].append(item)
        else:
            out.append([item])
    try:
        hints = json.loads(HINTS.read_text())
    except (OSError, ValueError):
        hints = {}
    counts: dict[str, int] = {}
    for item in items:
        counts[os.path.basename(str(item.path))] = counts.get(os.path.basename(str(item.path)), 0) + 1

    def weight(chunk: list) -> float:
        name = os.path.basename(str(chunk[0].path))
        return float(hints.get(name, UNKNOWN)) * len(chunk) / counts[name]

    ordered: list[list] = []
    stretch: list[list] = []
    for chunk in out + [None]:
        if stretch and (chunk is None or _session_params(chunk[0]) != _session_params(stretch[0][0])):
            ordered += sorted(stretch, key=weight, reverse=True)
            stretch = []
        if chunk is not None:
            stretch.append(chunk)
    return ordered


def _claim(queue: str, index: int, chunk: list) -> bool:
    name = f"{index:05d}-{os.path.basename(str(chunk[0].path))}"
    try:
        fd = os.open(os.path.join(queue, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()} {len(chunk)}\n")
    return True


def runtestloop(session) -> Optional[bool]:
    """pytest_runtestloop for a shared queue; None (pytest's own loop) without one."""
    queue = os.environ.get(ENV)
    if not queue or session.config.option.collectonly:
        return None
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
    os.makedirs(queue, exist_ok=True)
    chunks = _chunks(session.items)
    mine: Optional[list] = None
    index = 0

    def next_mine() -> Optional[list]:
        nonlocal index
        while index < len(chunks):
            chunk, at = chunks[index], index
            index += 1
            if _claim(queue, at, chunk):
                return chunk
        return None

    mine = next_mine()
    while mine is not None:
        following = None
        for i, item in enumerate(mine):
            if i + 1 < len(mine):
                nextitem = mine[i + 1]
            else:   # the next chunk is claimed before the last test's teardown decides what to keep
                following = next_mine()
                nextitem = following[0] if following else None
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.shouldfail:
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                raise session.Interrupted(session.shouldstop)
        mine = following
    return True


def write_hints(junit_files: list[str]) -> None:
    """durations.json from the JUnit XML reports of a whole run."""
    import xml.etree.ElementTree as ET

    totals: dict[str, float] = {}
    for name in junit_files:
        for case in ET.parse(name).getroot().iter("testcase"):
            module = (case.get("classname") or "").rsplit(".", 1)[-1] + ".py"
            totals[module] = totals.get(module, 0.0) + float(case.get("time") or 0)
    HINTS.write_text(json.dumps({k: round(v) for k, v in sorted(totals.items())}, indent=1) + "\n")


if __name__ == "__main__":
    write_hints(sys.argv[1:])
