"""diff leaves out the paths a container's start makes, as podman's does: mount points and
runtime files (/run, /etc/hostname...), whatever happened to them; what is below or beside
them is listed as usual."""

from podpy.engine.imagediff import INIT_PATHS, changes


def test_init_paths_are_left_out_of_a_diff():
    d = (0o40755, 0, 0, 0, "")
    f = (0o100644, 0, 0, 3, "x")
    base = {"/etc": d, "/bin": d}
    new = {"/etc": d, "/bin": d, "/run": d, "/run/.containerenv": f, "/run/app": f,
           "/etc/hostname": f, "/etc/app.conf": f, "/proc": d}
    # /etc holds an addition: changed; /run is made by a start: left out, what it holds is not
    assert changes(new, base) == [("C", "/etc"), ("A", "/etc/app.conf"), ("A", "/run/app")]
    assert {"/run", "/etc/hostname", "/run/.containerenv", "/proc", "/sys", "/dev"} <= INIT_PATHS
