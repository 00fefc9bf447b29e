"""A pod's infra container's image: `localhost/podpy-pause:VERSION`, made here from the host's
catatonit the first time a pod needs it (no registry needed)."""

from __future__ import annotations

import os

from ..errors import InvalidArgument
from .context import Runtime

PAUSE_REPOSITORY = "localhost/podpy-pause"
CATATONIT = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/local/bin/catatonit")


def pause_image(rt: Runtime) -> str:
    """The pause image's name, made from the host's catatonit the first time a pod needs it."""
    from .. import __version__

    name = f"{PAUSE_REPOSITORY}:{__version__}"
    try:
        rt.store.image(name, rt.cfg.short_names)
        return name
    except Exception:  # noqa: BLE001 - not made yet
        pass
    binary = next((p for p in CATATONIT if os.access(p, os.X_OK)), None)
    if binary is None:
        raise InvalidArgument("a pod's infra container runs catatonit, which is not installed "
                              "(Debian: apt-get install catatonit), or use --infra=false")
    import io
    import tarfile

    from .entities import ImportOptions
    from .images import ImageEngine

    with rt.store.temporary("pause") as stage:
        path = os.path.join(stage.path, "pause.tar")
        with tarfile.open(path, "w") as tf:
            info = tf.gettarinfo(os.path.realpath(binary), arcname="catatonit")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = 0o755
            with open(binary, "rb") as f:
                tf.addfile(info, f)
            for d in ("etc", "proc", "sys", "dev", "run", "tmp"):
                entry = tarfile.TarInfo(d)
                entry.type, entry.mode = tarfile.DIRTYPE, 0o755 if d != "tmp" else 0o1777
                tf.addfile(entry, io.BytesIO(b""))
        ImageEngine(rt, lambda _line: None).import_(ImportOptions(
            source=path, reference=name, changes=['ENTRYPOINT ["/catatonit", "-P"]'], message=""))
    return name
