"""A warning for the benchmarks when the podpy they run compiles its modules on every command."""

from __future__ import annotations

import importlib.util
import os
import sys


def warn_uncached() -> None:
    """Say so on stderr when podpy (as found on this process's PYTHONPATH, which the timed
    commands inherit) is a source tree without cached bytecode, e.g. a checkout owned by another
    user than the one running the benchmark: each command then compiles every module it imports,
    about doubling the time of a `run`, which is not what an installed podpy (whose bytecode is
    compiled at install, or when the zipapp unpacks) pays."""
    spec = importlib.util.find_spec("podpy")
    origin = spec.origin if spec is not None else None
    if not origin or not origin.endswith(".py") or not os.path.isfile(origin):
        return
    engine = os.path.join(os.path.dirname(origin), "engine", "start.py")
    if os.path.exists(engine) and not os.path.exists(importlib.util.cache_from_source(engine)):
        top = os.path.dirname(os.path.dirname(origin))
        print(f"warning: podpy in {top} has no cached bytecode, so every command compiles its modules "
              f"(run `python3 -m compileall -q podpy rootless storage` in {top} as its owner)",
              file=sys.stderr)
