"""Records whose fields are written twice (FIELDS for the defaults, the class's annotations for
the types) must not drift: the same fields in the same order, and each default of its type."""

import importlib
import re
from pathlib import Path

import pytest

from podpy.record import REQUIRED, Record

ROOT = Path(__file__).resolve().parents[2]


def _records() -> list[type]:
    """Every Record subclass of podpy/ (the modules that declare one are found in the source)."""
    for path in (ROOT / "podpy").rglob("*.py"):
        if re.search(r"^class \w+\(Record\):", path.read_text(), re.M):
            importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    found, todo = [], list(Record.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("podpy.")]


def _fits(default: object, annotation: str) -> bool:
    if default is REQUIRED:
        return True
    if default is None:
        return annotation.startswith("Optional[")
    if isinstance(default, type):
        return annotation.split("[")[0] == default.__name__
    return annotation.split("[")[0] == type(default).__name__


@pytest.mark.parametrize("cls", _records(), ids=lambda c: c.__name__)
def test_fields_and_annotations_agree(cls):
    annotations = {k: v for k, v in cls.__annotations__.items() if not v.startswith("ClassVar")}
    assert list(cls.FIELDS) == list(annotations)
    wrong = {name: (default, annotations[name]) for name, default in cls.FIELDS.items()
             if not _fits(default, annotations[name])}
    assert not wrong


def test_every_record_is_checked():
    assert {c.__name__ for c in _records()} >= {"ContainerConfig", "ContainerRecord", "ExecOptions",
                                               "CreateOptions"}
