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

import os
from typing import Optional

ENV = "PODPY_TEST_QUEUE"


def _chunks(items: list) -> list[list]:
    out: list[list] = []
    for item in items:
        if out and out[-1][0].path == item.path:
            out[-1].append(item)
        else:
            out.append([item])
    return out


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
