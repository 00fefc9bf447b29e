"""The remote forms of commit, diff, history, top, rename, init, export, import, stats, system
df, healthcheck run, search, secrets and network connect/disconnect: their libpod routes are
registered, a tar's entries renamed as libpod's archive `rename` asks, and what podman 4.3.1's own remote
client refuses is refused saying so."""

import pytest

from podpy.api import AREAS
from podpy.api.routes import Router
from podpy.remote.refusals import refusal
from podpy.remote.secrets import _local_times


@pytest.mark.parametrize("method,path,handler", [
    ("POST", "/libpod/commit", "commit"),
    ("GET", "/libpod/containers/c1/changes", "container_changes"),
    ("GET", "/libpod/images/busybox/changes", "image_changes"),
    ("GET", "/libpod/images/busybox/history", "history"),
    ("GET", "/libpod/containers/c1/top", "top"),
    ("POST", "/libpod/containers/c1/rename", "rename"),
    ("POST", "/libpod/containers/c1/init", "init"),
    ("GET", "/libpod/containers/c1/export", "wrapped"),
    ("POST", "/libpod/secrets/create", "create"),
    ("GET", "/libpod/secrets/json", "ls"),
    ("GET", "/libpod/secrets/s1/json", "inspect"),
    ("GET", "/libpod/secrets/s1/exists", "exists"),
    ("DELETE", "/libpod/secrets/s1", "remove"),
    ("POST", "/libpod/networks/n1/connect", "network_connect"),
    ("POST", "/libpod/networks/n1/disconnect", "network_disconnect"),
    ("GET", "/libpod/containers/stats", "stats"),
    ("GET", "/libpod/containers/c1/healthcheck", "healthcheck"),
    ("GET", "/libpod/system/df", "df"),
    ("GET", "/libpod/images/search", "search"),
    ("POST", "/libpod/images/import", "import_"),
    ("PUT", "/libpod/containers/c1/archive", "put"),
])
def test_the_routes_are_served(method, path, handler):
    route, _params = Router.build(AREAS).match(method, path)
    assert route.method == method and route.handler.__name__ == handler


@pytest.mark.parametrize("command", ["volume export", "volume import", "container clone", "generate spec",
                                     "auto-update", "mount", "container mount", "image mount", "network reload",
                                     "unshare", "container runlabel", "image sign"])
def test_what_podmans_remote_client_refuses_says_so(command):
    assert refusal(command) == f"podpy {command}: not available with --remote (podman 4.3.1's remote client refuses it too)"


def test_pod_clone_fails_in_podmans_client_and_the_rest_is_podpys_own_refusal():
    assert refusal("pod clone").endswith("(podman 4.3.1's remote client fails on it too)")
    assert refusal("stats") == "podpy stats: not available with --remote"


def test_the_archive_rename_names_an_entry_and_what_is_under_it():
    import io
    import tarfile

    from podpy.api.archive import rename_entries

    src = io.BytesIO()
    with tarfile.open(fileobj=src, mode="w") as tf:
        for name in ("d", "d/f", "df"):
            info = tarfile.TarInfo(name)
            if name == "d":
                info.type = tarfile.DIRTYPE
            tf.addfile(info, io.BytesIO(b"") if name != "d" else None)
    src.seek(0)
    dst = io.BytesIO()
    rename_entries(src, dst, {"d": "new"})
    dst.seek(0)
    with tarfile.open(fileobj=dst) as tf:
        assert tf.getnames() == ["new", "new/f", "df"]


def test_podmans_nanosecond_secret_times_read_as_podpys_microseconds():
    doc = _local_times({"CreatedAt": "2026-12-05T23:35:23.956965484Z", "UpdatedAt": "2026-12-05T23:35:23Z"})
    assert doc == {"CreatedAt": "2026-12-05T23:35:23.956965Z", "UpdatedAt": "2026-12-05T23:35:23.000000Z"}
