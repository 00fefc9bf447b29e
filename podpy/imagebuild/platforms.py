"""Which platforms `build --all-platforms` makes (buildah's rule).

The base images of the Containerfile's stages (each FROM expanded with the global ARGs, after
--from and --build-context replace it; `scratch` and earlier stages skipped) must each name a
registry manifest list, and every platform all of them offer is built, one after another
(engine/listplatforms.py reads the lists; binfmt.py says whether a RUN step of one runs here).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable

from .options import BuildOptions


def base_images(rt: Any, o: BuildOptions, warn: Callable[[str], None]) -> list[str]:
    """The base images of the build's stages, as buildah's --all-platforms reads them."""
    from .executor import Build
    from .options import builtin_args
    from .parser import parse
    from .stages import base_of, global_values, split

    b = Build(rt, o, lambda _line: None, warn, lambda _line: None)
    try:
        with contextlib.ExitStack() as stack:
            b.scratch = stack.enter_context(rt.store.temporary("build-files")).path
            _root, text, fname = b._sources(stack)
    finally:
        b.ssh.close()
    plan = split(parse(text, fname))
    if o.from_:
        plan.stages[0].base = o.from_
    images = {name: value.split("://", 1)[-1] for name, value in b.build_contexts.items()
              if value.startswith(("docker-image://", "container-image://")) or not os.path.exists(value)}
    globals_ = global_values(plan, b.build_args, builtin_args(None))
    bases: list[str] = []
    nicknames: set[str] = set()
    for stage in plan.stages:
        if stage.base.lower() in images:
            stage.base = images[stage.base.lower()]
        base = base_of(plan, stage, globals_)
        if base.lower() != "scratch" and base.lower() not in nicknames:
            bases.append(base)
        if stage.name:
            nicknames.add(stage.name)
    return bases


def all_platforms(rt: Any, o: BuildOptions, warn: Callable[[str], None]) -> list[str]:
    """--all-platforms: every platform all the base images' manifest lists offer."""
    from ..engine.listplatforms import common_platforms
    from ..engine.pull import PullOptions
    from ..errors import InvalidArgument

    if o.context == "-" or "-" in o.files:   # read once for the base images, it would be gone for the builds
        raise InvalidArgument("--all-platforms with the Containerfile or the context on stdin is not available: "
                              "give them as files")

    given = PullOptions(name="", tls_verify=o.tls_verify, creds=o.creds, cert_dir=o.cert_dir,
                        auth_file=o.auth_file)
    return common_platforms(rt, base_images(rt, o, warn), given)
