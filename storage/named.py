"""NamedTuple: typing.NamedTuple's class syntax, without importing typing or collections.

    class Reference(NamedTuple):
        domain: str
        path: str
        tag: Optional[str] = None

makes a tuple subclass with those fields in that order (read from the class's annotations),
attribute access to them, keyword arguments and defaults, `_fields`, `_field_defaults`,
`_replace`, `_asdict`, a repr that names the fields, and pickling and copying as tuples.

Why not collections.namedtuple: importing collections (with functools, operator, reprlib,
keyword and itertools behind it) and generating each class's methods by exec costs some 3 ms
of every command, a tenth of what `podpy run` may take in all. storage's and podpy's
records are these; rootless, which imports neither, writes its few tuple classes out.
"""

from __future__ import annotations

from _operator import itemgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    T = TypeVar("T", bound="NamedTuple")


class NamedTuple(tuple):  # type: ignore[type-arg]
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _field_defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__annotations__", {})
        fields = tuple(name for name in own if not name.startswith("_"))
        if not fields:
            return   # a subclass of a record that adds methods only
        if cls._fields:
            raise TypeError(f"{cls.__name__}: a record's fields are declared once, in one class")
        defaults = {}
        for i, name in enumerate(fields):
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
            elif defaults:
                raise TypeError(f"{cls.__name__}: field {name} without a default follows one with a default")
            setattr(cls, name, property(itemgetter(i), doc=f"field {i}"))
        cls._fields = fields
        cls._field_defaults = defaults

    def __new__(cls: type[T], *args: Any, **kwargs: Any) -> T:
        fields = cls._fields
        if len(args) == len(fields) and not kwargs:
            return tuple.__new__(cls, args)
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes {len(fields)} arguments, {len(args)} given")
        values = list(args)
        for name in fields[:len(args)]:
            if name in kwargs:
                raise TypeError(f"{cls.__name__}() got {name!r} twice")
        defaults = cls._field_defaults
        for name in fields[len(args):]:
            if name in kwargs:
                values.append(kwargs.pop(name))
            elif name in defaults:
                values.append(defaults[name])
            else:
                raise TypeError(f"{cls.__name__}() missing argument {name!r}")
        if kwargs:
            raise TypeError(f"{cls.__name__}() got unexpected arguments: {', '.join(sorted(kwargs))}")
        return tuple.__new__(cls, values)

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({inner})"

    def _replace(self: T, **changes: Any) -> T:
        values = [changes.pop(name, value) for name, value in zip(self._fields, self)]
        if changes:
            raise ValueError(f"{type(self).__name__} has no fields {', '.join(sorted(changes))}")
        return tuple.__new__(type(self), values)

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self))
