"""podman on a private store for the benchmarks that compare with it."""

from __future__ import annotations

import os
from pathlib import Path


def podman_env(home: Path) -> dict[str, str]:
    """The environment of a podman whose configuration and store are under home."""
    env = dict(os.environ)
    conf = home / "config" / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    # podman 4.3 on a hybrid-cgroup host needs runc and cgroupfs.
    (conf / "containers.conf").write_text('[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n'
                                          'events_logger = "file"\n')
    (conf / "storage.conf").write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/storage"\n'
                                       f'runroot = "{home}/run"\n')
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
    return env
