"""The `os` module of a podpy command, made light until more of it is wanted.

Python's `os` costs a command some 1.2 ms before its first line of work: the module's body
and `_collections_abc`, which it imports for `os.environ`'s base class (two dozen abstract
classes, each made through ABCMeta). podpy's commands use a small part of it: the functions
of the `posix` module, which is built in and loaded already, `os.path`, `os.environ` and a
handful of helpers. `install()`, called by podpy's `__main__` before anything imports `os`,
puts in `sys.modules` an `os` module holding just those: posix's functions and constants
(the very objects `os` would hold), `posixpath` as `os.path`, and light versions of
`environ`, `getenv`, `fsencode`, `fsdecode`, `fdopen`, `makedirs` and `get_exec_path` that
behave as the standard ones do.

The first time anything asks the module for a name it lacks (`os.walk`, `os.PathLike`,
`from os import *`...), the standard `os` is executed into the same module object (its
loader's `exec_module`, as `importlib.reload` would), so every holder of the module sees
the whole of it from then on, and nothing can tell the difference but the time. Both
`environ` objects are views of one dictionary, posix's own (`os.environ` is built over it
too), so a change made through the light one before the upgrade is there after it, and a
reference kept to the light one stays current.

Nothing here may import `os`, directly or through another module.
"""

import sys

import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

_ENCODING = sys.getfilesystemencoding()
_ERRORS = sys.getfilesystemencodeerrors()

# what the standard os defines itself for POSIX, as it defines them
_CONSTANTS = {
    "name": "posix", "linesep": "\n", "sep": "/", "altsep": None, "curdir": ".", "pardir": "..",
    "extsep": ".", "pathsep": ":", "defpath": "/bin:/usr/bin", "devnull": "/dev/null",
    "SEEK_SET": 0, "SEEK_CUR": 1, "SEEK_END": 2, "supports_bytes_environ": True,
}


def _encode(value: str) -> bytes:
    """An environment variable's name or value as the standard os.environ stores it."""
    if not isinstance(value, str):
        raise TypeError(f"str expected, not {type(value).__name__}")
    return value.encode(_ENCODING, "surrogateescape")


def _decode(value: bytes) -> str:
    return value.decode(_ENCODING, "surrogateescape")


class Environ:
    """`os.environ` without `collections.abc`: str names and values over posix's bytes
    dictionary, which it shares with the standard os.environ; setting and deleting a
    variable changes the process's environment (putenv, unsetenv), as there."""

    __slots__ = ("_data",)

    def __init__(self, data: "dict[bytes, bytes]") -> None:
        self._data = data

    def __getitem__(self, key: str) -> str:
        try:
            value = self._data[_encode(key)]
        except KeyError:
            raise KeyError(key) from None
        return _decode(value)

    def __setitem__(self, key: str, value: str) -> None:
        name, data = _encode(key), _encode(value)
        posix.putenv(name, data)
        self._data[name] = data

    def __delitem__(self, key: str) -> None:
        name = _encode(key)
        posix.unsetenv(name)
        try:
            del self._data[name]
        except KeyError:
            raise KeyError(key) from None

    def __iter__(self) -> "Iterator[str]":
        for name in list(self._data):   # a copy: the loop's body may change the environment
            yield _decode(name)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __repr__(self) -> str:
        items = ", ".join(f"{_decode(k)!r}: {_decode(v)!r}" for k, v in self._data.items())
        return f"environ({{{items}}})"

    def __eq__(self, other: object) -> bool:
        if not hasattr(other, "items"):
            return NotImplemented
        return dict(self.items()) == dict(other.items())  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def get(self, key: str, default: "Optional[str]" = None) -> "Optional[str]":
        try:
            return self[key]
        except KeyError:
            return default

    def copy(self) -> "dict[str, str]":
        return {_decode(k): _decode(v) for k, v in self._data.items()}

    def keys(self):  # type: ignore[no-untyped-def]
        return self.copy().keys()

    def values(self):  # type: ignore[no-untyped-def]
        return self.copy().values()

    def items(self):  # type: ignore[no-untyped-def]
        return self.copy().items()

    def setdefault(self, key: str, value: str) -> str:
        if key not in self:
            self[key] = value
        return self[key]

    _MISSING = object()

    def pop(self, key: str, default: "Any" = _MISSING) -> "Any":
        try:
            value = self[key]
        except KeyError:
            if default is Environ._MISSING:
                raise
            return default
        del self[key]
        return value

    def popitem(self) -> "tuple[str, str]":
        for key in self:
            return key, self.pop(key)
        raise KeyError("popitem(): environment is empty")

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def update(self, other: "Any" = (), /, **more: str) -> None:
        if hasattr(other, "keys"):
            for key in list(other.keys()):
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in more.items():
            self[key] = value

    def __or__(self, other: "Any") -> "dict[str, str]":
        if not hasattr(other, "keys"):
            return NotImplemented
        new = self.copy()
        new.update(other)
        return new

    def __ror__(self, other: "Any") -> "dict[str, str]":
        if not hasattr(other, "keys"):
            return NotImplemented
        new = dict(other)
        new.update(self.copy())
        return new

    def __ior__(self, other: "Any") -> "Environ":
        self.update(other)
        return self


environ = Environ(posix.environ)


def getenv(key: str, default: "Optional[str]" = None) -> "Optional[str]":
    return environ.get(key, default)


def fsencode(filename: "Any") -> bytes:
    filename = posix.fspath(filename)
    return filename.encode(_ENCODING, _ERRORS) if isinstance(filename, str) else filename


def fsdecode(filename: "Any") -> str:
    filename = posix.fspath(filename)
    return filename.decode(_ENCODING, _ERRORS) if isinstance(filename, bytes) else filename


def fdopen(fd: int, mode: str = "r", buffering: int = -1, encoding: "Optional[str]" = None,
           *args: "Any", **kwargs: "Any") -> "Any":
    """A file object over an open descriptor, as io.open makes one."""
    if not isinstance(fd, int):
        raise TypeError(f"invalid fd type ({type(fd)}, expected integer)")
    import io

    if "b" not in mode:
        encoding = io.text_encoding(encoding)
    return io.open(fd, mode, buffering, encoding, *args, **kwargs)


def makedirs(name: "Any", mode: int = 0o777, exist_ok: bool = False) -> None:
    """A directory with its missing parents (each parent with the default mode, as the
    standard makedirs makes them); an existing leaf is an error unless exist_ok."""
    from posixpath import exists, isdir, split

    head, tail = split(name)
    if not tail:
        head, tail = split(head)
    if head and tail and not exists(head):
        try:
            makedirs(head, exist_ok=exist_ok)
        except FileExistsError:
            pass   # made meanwhile by another process
        if tail == (b"." if isinstance(tail, bytes) else "."):
            return
    try:
        posix.mkdir(name, mode)
    except OSError:
        if not exist_ok or not isdir(name):
            raise


def get_exec_path(env: "Any" = None) -> "list[str]":
    """The directories a program is looked up in: env's PATH (default: this environment's),
    else the default path."""
    value = (environ if env is None else env).get("PATH")
    if value is None:
        value = _CONSTANTS["defpath"]
    elif isinstance(value, bytes):
        value = fsdecode(value)
    return value.split(":")


_LIGHT = {"environ": environ, "getenv": getenv, "fsencode": fsencode, "fsdecode": fsdecode,
          "fdopen": fdopen, "makedirs": makedirs, "get_exec_path": get_exec_path}


def _os_spec() -> "Any":
    """The standard os module's spec (frozen in the interpreter, or its source file), from the
    finders the import system would ask; None when none knows it."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find("os", None) if find is not None else None
        if spec is not None:
            return spec if spec.loader is not None and hasattr(spec.loader, "exec_module") else None
    return None


def install() -> bool:
    """Make `os` the light module, unless it is imported already (or the standard one cannot
    be found to complete it later): whether it was installed."""
    if "os" in sys.modules:
        return False
    spec = _os_spec()
    if spec is None:
        return False
    module = type(sys)("os")
    names = module.__dict__
    own = dict(names)   # the new module's __name__, __doc__, __spec__...
    # posix's functions and constants, as `from posix import *` and `from posix import _exit,
    # _have_functions` give them to os (and posix's own _path_normpath): one copy of its
    # dictionary, some 0.1 ms less than a getattr for each of its 350 names
    names.update(posix.__dict__)
    names.update(own)
    names.update(_CONSTANTS)
    names.update(_LIGHT)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__package__ = spec.parent
    filename = getattr(spec.loader_state, "filename", None) or (spec.origin if spec.has_location else None)
    if filename:
        module.__file__ = filename
    names["__getattr__"] = _completer(module)
    sys.modules["os"] = module
    import posixpath   # it imports os: the module above

    names["path"] = posixpath
    sys.modules["os.path"] = posixpath
    return True


def _completer(module: "Any") -> "Callable[[str], Any]":
    """The module's __getattr__: the standard os executed into it, then the name looked up.
    Special names other than __all__ are not looked for there (the import system asks
    every module for __path__, which os has not)."""
    import _thread

    lock = _thread.allocate_lock()
    names = module.__dict__

    def __getattr__(name: str) -> "Any":
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(f"module 'os' has no attribute {name!r}")
        with lock:
            if names.get("__getattr__") is __getattr__:
                complete(module)
        try:
            return names[name]
        except KeyError:
            raise AttributeError(f"module 'os' has no attribute {name!r}") from None

    return __getattr__


def complete(module: "Any") -> None:
    """Execute the standard os into the light module (once): every name of it there, its
    environ a view of the same dictionary as the light one."""
    names = module.__dict__
    if "__getattr__" not in names:
        return
    del names["__getattr__"]
    module.__spec__.loader.exec_module(module)
    names["MutableMapping"].register(Environ)


def is_light(module: "Any") -> bool:
    """Whether this os module is the light one still (not completed)."""
    return "__getattr__" in module.__dict__
