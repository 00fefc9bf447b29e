"""storage.fastjson gives json's results: the same values, the same text, the same errors."""

import io
import json
import math
import random

import pytest

from storage import fastjson

VALUES = [
    None, True, False, 0, -1, 2**70, 1.5, -0.0, 1e300, "", "a", "é\u2028\U0001f600", "\"\\\n\t\x00\x1f",
    [], {}, [1, [2, [3, {"a": [None]}]]], {"b": 1, "a": 2, "é": "ü"}, {"1": [1.25, "x"]},
    {"nested": {"k": [True, False, None, "", 0.1]}},
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_matches_json(value):
    for kwargs in ({}, {"sort_keys": True}, {"separators": (",", ":")}, {"ensure_ascii": False},
                   {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}, {"indent": 2}):
        assert fastjson.dumps(value, **kwargs) == json.dumps(value, **kwargs)


def test_dumps_of_non_finite_floats_and_default():
    for value in (math.nan, math.inf, -math.inf):
        assert fastjson.dumps([value]) == json.dumps([value])
    assert fastjson.dumps({"s": {1, 2} and b"x"}, default=repr) == json.dumps({"s": b"x"}, default=repr)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        fastjson.dumps({"s": {1}})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        fastjson.dumps(loop)


def test_dumps_of_tuples_and_non_string_keys():
    value = {1: (1, 2), 2.5: None, True: "t", None: 0}
    assert fastjson.dumps(value) == json.dumps(value)


@pytest.mark.parametrize("value", VALUES)
def test_loads_round_trip_matches_json(value):
    text = json.dumps(value)
    for given in (text, f"  \n{text}\t\r ", text.encode(), bytearray(text.encode())):
        assert fastjson.loads(given) == json.loads(given)


def test_loads_of_constants_and_encodings():
    got = fastjson.loads('[NaN, Infinity, -Infinity, 1E400, 12345678901234567890]')
    assert math.isnan(got[0]) and got[1:4] == [math.inf, -math.inf, math.inf] and got[4] == 12345678901234567890
    for encoding in ("utf-16", "utf-16-le", "utf-32", "utf-8-sig"):
        data = '{"é": 1}'.encode(encoding)
        assert fastjson.loads(data) == json.loads(data)


@pytest.mark.parametrize("text", ["", " ", "[", "{\"a\" 1}", "[1,]", "1 2", "{} x", "\ufeff{}", "nul",
                                  "\"\x01\"", "[1] ]", "'a'"])
def test_loads_errors_are_json_errors(text):
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    with pytest.raises(fastjson.JSONDecodeError) as got:
        fastjson.loads(text)
    assert str(got.value) == str(want.value)


def test_random_documents_agree():
    rng = random.Random(7)

    def make(depth):
        kind = rng.randrange(7 if depth < 4 else 5)
        if kind == 0:
            return rng.randrange(-10**6, 10**6)
        if kind == 1:
            return rng.random() * 10 ** rng.randrange(-5, 5)
        if kind == 2:
            return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x2000)]))
                           for _ in range(rng.randrange(8)))
        if kind == 3:
            return rng.choice([None, True, False])
        if kind == 4:
            return ""
        if kind == 5:
            return [make(depth + 1) for _ in range(rng.randrange(4))]
        return {make(depth + 1) if False else str(rng.random()): make(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(300):
        value = make(0)
        for kwargs in ({}, {"sort_keys": True, "separators": (",", ":")}, {"ensure_ascii": False}):
            text = fastjson.dumps(value, **kwargs)
            assert text == json.dumps(value, **kwargs)
            assert fastjson.loads(text) == json.loads(text)


def test_load_and_dump_use_files():
    buf = io.StringIO()
    fastjson.dump({"a": [1]}, buf, sort_keys=True)
    assert buf.getvalue() == '{"a": [1]}'
    assert fastjson.load(io.StringIO(' {"a": [1]} ')) == {"a": [1]}


@pytest.mark.parametrize("text", ["{not json", "[1,]", '{"a" 1}', '"\\x01"', "x", "1 2", "[1] ]"])
def test_errors_are_json_errors_before_json_is_imported(text):
    """The C scanner finds JSONDecodeError only in an already imported json.decoder: in a
    process that has not imported json yet, malformed input must still raise json's error
    (each text in a fresh process: the first error imports json)."""
    import subprocess
    import sys

    code = ("import sys\nimport storage.fastjson as j\nassert 'json.decoder' not in sys.modules\n"
            "try:\n    j.loads(sys.argv[1])\nexcept ValueError as exc:\n    print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-S", "-c", code, text], capture_output=True, text=True,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])})
    with pytest.raises(json.JSONDecodeError) as want:
        json.loads(text)
    assert out.stdout.strip() == f"JSONDecodeError {want.value}", out.stderr


def test_importing_it_leaves_re_and_json_out():
    import subprocess
    import sys

    code = ("import sys, storage.fastjson as j\nj.dumps(j.loads('{\"a\": [1, 2.5, null]}'), sort_keys=True)\n"
            "print(' '.join(m for m in ('json', 're', 'enum') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])})
    assert out.stdout.strip() == ""
