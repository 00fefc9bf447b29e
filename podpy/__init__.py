"""podpy: a rootless, daemonless, podman-style container tool."""

__version__ = "0.1.0"

PACK = "_modules.pack"   # beside this file: podpy's, storage's and rootless's bytecode in one file


def _serve_pack() -> None:
    """Import podpy's, storage's and rootless's modules from the pack that
    packaging/build_pack.py writes beside this file at install time, when there is one.

    Python's own import costs some 70 us a module before its code runs (finding it on the
    path, statting, opening and reading its .pyc, checking it); a command imports over a
    hundred of them. From the pack a module costs one stat and one pread. A module is
    served only while its source file has the size and modification time it was compiled
    from, and only where the ordinary import would have found it (the directory this
    package is in); anything else is left to the ordinary import."""
    import sys
    from _frozen_importlib import ModuleSpec
    from _frozen_importlib_external import MAGIC_NUMBER
    from marshal import loads
    from posix import O_CLOEXEC, O_RDONLY, close, fstat, pread, stat
    from posix import open as open_

    here = __file__.rpartition("/")[0]
    base = here.rpartition("/")[0]
    try:
        fd = open_(here + "/" + PACK, O_RDONLY | O_CLOEXEC)
    except OSError:
        return
    try:
        head = pread(fd, 16, 0)
        if len(head) != 16 or head[:8] != b"podpypk1" or head[8:12] != MAGIC_NUMBER:
            close(fd)
            return
        size = int.from_bytes(head[12:], "little")
        index = loads(pread(fd, size, 16))
        start = 16 + size
        st = fstat(fd)
        if start + max((e[4] + e[5] for e in index.values()), default=0) > st.st_size:
            raise ValueError("truncated")
        identity = (st.st_dev, st.st_ino)
    except Exception:  # noqa: BLE001 - a damaged pack: the ordinary import, as without one
        close(fd)
        return

    def first_on_path(top: str) -> bool:
        """The ordinary import would find package top in base (no earlier path entry has it)."""
        for entry in sys.path:
            entry = entry or "."
            if entry == base:
                return True
            try:
                stat(entry + "/" + top + "/__init__.py")
                return False
            except OSError:
                continue
        return False

    class Pack:
        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> object:
            entry = index.get(name)
            if entry is None:
                return None
            try:
                return Pack._spec(name, path, entry)
            except Exception:  # noqa: BLE001 - whatever is odd here, the ordinary import decides
                return None

        @staticmethod
        def _spec(name: str, path: object, entry: tuple) -> object:
            # A process that closed its inherited fds (a container's set-up, a daemon) may have
            # another file at this number now: then the pack is not read any more.
            st = fstat(fd)
            if (st.st_dev, st.st_ino) != identity:
                return None
            is_pkg, rel, mtime, source_size = entry[0], entry[1], entry[2], entry[3]
            parent, _, _ = name.rpartition(".")
            if parent:
                want = base + "/" + parent.replace(".", "/")
                if not isinstance(path, list) or not path or path[0] != want:
                    return None
            elif not first_on_path(name):
                return None
            origin = base + "/" + rel
            try:
                st = stat(origin)
            except OSError:
                return None
            if st.st_mtime_ns != mtime or st.st_size != source_size:
                return None
            spec = ModuleSpec(name, Pack, origin=origin, is_package=is_pkg)
            spec.has_location = True
            if is_pkg:
                spec.submodule_search_locations = [origin.rpartition("/")[0]]
            return spec

        @staticmethod
        def create_module(spec: object) -> None:
            return None

        @staticmethod
        def exec_module(module: object) -> None:
            entry = index[module.__spec__.name]  # type: ignore[attr-defined]
            code = loads(pread(fd, entry[5], start + entry[4]))
            exec(code, module.__dict__)  # type: ignore[attr-defined]

    sys.meta_path.insert(0, Pack)


_serve_pack()
del _serve_pack
