"""Record: the base of the mutable data classes on the path of `podpy run`.

dataclasses would do, but importing them (with inspect, ast, dis and tokenize)
and generating their methods costs about 20 ms at every start, a fifth of what
`podpy run` may take in all. A record declares its fields once, in FIELDS:
name -> default, where REQUIRED marks a field without one and a type (list,
dict) makes a fresh empty value for each instance.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

REQUIRED = object()


class Record:
    __slots__ = ()
    FIELDS: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **values: Any) -> None:
        fields = self.FIELDS
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}: too many arguments")
        for name, value in zip(fields, args):
            if name in values:
                raise TypeError(f"{type(self).__name__}: {name} given twice")
            values[name] = value
        for name, default in fields.items():
            if name in values:
                value = values.pop(name)
            elif default is REQUIRED:
                raise TypeError(f"{type(self).__name__}: missing {name}")
            else:
                value = default() if isinstance(default, type) else default
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}: unknown {', '.join(sorted(values))}")

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.as_dict() == other.as_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.as_dict().items())})"
