"""podpy: a rootless, daemonless, podman-style container tool."""

__version__ = "0.1.0"
# the level of podman's REST API (libpod) that podpy's service and client speak: podman 4.3.1's
LIBPOD_API_VERSION = "4.3.1"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

PACK = "_modules.pack"   # beside this file: podpy's, storage's and rootless's bytecode in one file
PACK_RECORD = 21          # bytes of a module's record in the pack's index (packaging/build_pack.py)


def preload(names: "tuple[str, ...]") -> None:
    """Import these modules ahead, faster than one by one as their import statements come
    (see _serve_pack); without a pack, nothing: they are imported when needed."""


def _serve_pack() -> None:
    """Import podpy's, storage's and rootless's modules from the pack that
    packaging/build_pack.py writes beside this file at install time, when there is one.

    Python's own import costs some 70 us a module before its code runs (finding it on the
    path, statting, opening and reading its .pyc, checking it); a command imports over a
    hundred of them. From the pack a module costs a stat of its source and one open, pread
    and close of the pack. A module is served only while its source file has the size and
    modification time it was compiled from, only where the ordinary import would have found
    it (the directory this package is in), and only from the pack whose index was read
    (a rebuilt one is another file); anything else is left to the ordinary import. No file
    descriptor stays open: podpy passes descriptors by number (--preserve-fds, socket
    activation) and counts them."""
    import _thread
    import sys
    from _frozen_importlib import ModuleSpec
    from _frozen_importlib_external import MAGIC_NUMBER
    from marshal import loads
    from posix import O_CLOEXEC, O_RDONLY, close, fstat, pread, stat
    from posix import open as open_

    here = __file__.rpartition("/")[0]
    base = here.rpartition("/")[0]
    pack = here + "/" + PACK
    try:
        fd = open_(pack, O_RDONLY | O_CLOEXEC)
    except OSError:
        return
    try:
        # the layout: packaging/build_pack.py
        head = pread(fd, 24, 0)
        if len(head) != 24 or head[:8] != b"podpypk3" or head[8:12] != MAGIC_NUMBER:
            return
        size = int.from_bytes(head[12:16], "little")
        names_text, table, deps_text = loads(pread(fd, size, 24))
        names = names_text.split("\n")
        start = 24 + size
        st = fstat(fd)
        if start + int.from_bytes(head[16:], "little") > st.st_size or len(table) != PACK_RECORD * len(names):
            return
        numbers = dict(zip(names, range(len(names))))
        identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except Exception:  # noqa: BLE001 - a damaged pack: the ordinary import, as without one
        return
    finally:
        close(fd)
    deps: "list[str]" = []

    def entry_of(name: str) -> "tuple[bool, str, int, int, int, int, int] | None":
        """(is a package, path under base, source mtime in ns, source size, offset, length,
        number) of a module of the pack, or None."""
        i = numbers.get(name)
        if i is None:
            return None
        at = PACK_RECORD * i
        is_pkg = table[at] == 1
        return (is_pkg, name.replace(".", "/") + ("/__init__.py" if is_pkg else ".py"),
                int.from_bytes(table[at + 1:at + 9], "little", signed=True),
                int.from_bytes(table[at + 9:at + 13], "little"), int.from_bytes(table[at + 13:at + 17], "little"),
                int.from_bytes(table[at + 17:at + 21], "little"), i)

    def imports_of(i: int) -> "list[str]":
        """The pack's modules that module number i imports when it is executed."""
        if not deps:
            deps.extend(deps_text.split("\n"))
        return [names[int(n)] for n in deps[i].split(",") if n]

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

    def open_pack() -> "int | None":
        """The pack whose index was read, opened (None: it is not there now)."""
        try:
            fd = open_(pack, O_RDONLY | O_CLOEXEC)
        except OSError:
            return None
        st = fstat(fd)
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != identity:
            close(fd)
            return None
        return fd

    def read_at(fd: int, offset: int, length: int) -> "bytes | None":
        data = pread(fd, length, start + offset)
        return data if len(data) == length else None

    def read(offset: int, length: int) -> "bytes | None":
        """The bytes at offset in the pack whose index was read (None: it is not there now)."""
        fd = open_pack()
        if fd is None:
            return None
        try:
            return read_at(fd, offset, length)
        finally:
            close(fd)

    class Pack:
        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> object:
            entry = entry_of(name)
            if entry is None:
                return None
            try:
                return Pack._spec(name, path, entry, read)
            except Exception:  # noqa: BLE001 - whatever is odd here, the ordinary import decides
                return None

        @staticmethod
        def _spec(name: str, path: object, entry: tuple, read: "Callable[[int, int], bytes | None]") -> object:
            is_pkg, rel, mtime, source_size, offset, length, _number = entry
            parent, _, _ = name.rpartition(".")
            if parent:
                want = base + "/" + parent.replace(".", "/")
                if not isinstance(path, list) or not path or path[0] != want:
                    return None
            elif not first_on_path(name):
                return None
            origin = base + "/" + rel
            st = stat(origin)
            if st.st_mtime_ns != mtime or st.st_size != source_size:
                return None
            code = read(offset, length)
            if code is None:
                return None
            spec = ModuleSpec(name, Pack, origin=origin, is_package=is_pkg)
            spec.has_location = True
            spec.loader_state = code
            if is_pkg:
                spec.submodule_search_locations = [origin.rpartition("/")[0]]
            return spec

        @staticmethod
        def create_module(spec: object) -> None:
            return None

        @staticmethod
        def exec_module(module: object) -> None:
            spec = module.__spec__  # type: ignore[attr-defined]
            code, spec.loader_state = spec.loader_state, None
            if code is None:   # executed again (importlib.reload)
                code = read(*entry_of(spec.name)[4:6])  # type: ignore[index]
                if code is None:
                    raise ImportError(f"{spec.name}: the module pack changed", name=spec.name)
            exec(loads(code), module.__dict__)  # type: ignore[attr-defined]

        @staticmethod
        def get_code(name: str) -> object:
            """The module's code object (what runpy runs for `python -m`)."""
            entry = entry_of(name)
            code = read(*entry[4:6]) if entry is not None else None
            if code is None:
                raise ImportError(f"{name}: not in the module pack", name=name)
            return loads(code)

        @staticmethod
        def get_source(name: str) -> None:
            return None   # linecache reads the source file itself, at its own path

        @staticmethod
        def is_package(name: str) -> bool:
            entry = entry_of(name)
            return bool(entry is not None and entry[0])

    sys.meta_path.insert(0, Pack)

    modules = sys.modules
    module_type = type(sys)
    cache_tag = sys.implementation.cache_tag

    class Stop(Exception):
        pass

    def load(name: str, read: "Callable[[int, int], bytes | None]") -> None:
        """name, its package and what its top level imports, executed here in that order, as
        importlib would: the same module attributes, the same spec, the module set on its
        package. A module the pack does not serve as it is stops the preload."""
        if name in modules:
            return
        entry = entry_of(name)
        if entry is None:
            raise Stop
        parent, _, child = name.rpartition(".")
        if parent:
            load(parent, read)
        for imported in imports_of(entry[6]):
            load(imported, read)
        if name in modules:
            return
        try:
            spec = Pack._spec(name, modules[parent].__path__ if parent else None, entry, read)
        except Exception:  # noqa: BLE001 - as find_spec: whatever is odd, importlib decides
            spec = None
        if spec is None:
            raise Stop
        module = module_type(name)
        origin = spec.origin
        directory, _, base = origin.rpartition("/")
        spec.cached = f"{directory}/__pycache__/{base[:-3]}.{cache_tag}.pyc"
        module.__spec__ = spec
        module.__loader__ = Pack
        module.__package__ = name if entry[0] else parent
        if entry[0]:
            module.__path__ = spec.submodule_search_locations
        module.__file__ = origin
        module.__cached__ = spec.cached
        code, spec.loader_state = spec.loader_state, None
        spec._initializing = True
        modules[name] = module
        try:
            exec(loads(code), module.__dict__)
        except BaseException as exc:
            modules.pop(name, None)   # as importlib: no module half executed stays
            if not isinstance(exc, Exception):
                raise
            raise Stop from None   # its import statement, when it comes, raises it where it is
        finally:
            spec._initializing = False
        if parent:
            setattr(modules[parent], child, module)

    def preload_from_pack(names: "tuple[str, ...]") -> None:
        """Import these modules of the pack with the ones their top levels import (the pack's
        index lists them), each executed as soon as what it imports is, rather than through
        importlib's finders, locks and checks for every import statement: some 25 us a module,
        2 ms of a `run`. Only in a process with one thread: with others, importlib's locks
        keep them from seeing a module half executed, and preload leaves the work to it. It
        stops at the first module the pack does not serve as it is (changed source, not in
        the pack, failing): the import statements that follow import the rest as usual."""
        if _thread._count():
            return
        fd = open_pack()   # once for them all: the modules are read from it by offset
        if fd is None:
            return

        def read_open(offset: int, length: int) -> "bytes | None":
            return read_at(fd, offset, length)

        try:
            for name in names:
                load(name, read_open)
        except Stop:
            pass
        finally:
            close(fd)

    global preload
    preload = preload_from_pack  # type: ignore[assignment]  # noqa: F811


_serve_pack()
del _serve_pack
