"""The hand-written validators of image references and names accept exactly what the regular
expressions they replace accept (those were dropped so that `podpy run` need not import `re`).

Each pattern below is the one the code used before, compared with `fullmatch`: the old code
anchored with `^...$`, and Python's `$` also matches before a final newline, so `"name\\n"`
passed it. Podman's (Go) patterns do not accept that newline and neither do the validators;
test_trailing_newline_is_refused covers that one difference.
"""

import random
import re
import sys

import pytest

from podpy import options
from storage import reference

PATTERNS = {
    "component": (reference.valid_component, r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"),
    "tag": (reference.valid_tag, r"[\w][\w.-]{0,127}"),
    "digest": (reference.valid_digest, r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}"),
    "domain": (reference.valid_domain,
               r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*"
               r"(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?"),
    "hex_id": (reference.is_hex_id, r"(?:sha256:)?[0-9a-f]{1,64}"),
    "name": (options.valid_name, r"[a-zA-Z0-9][a-zA-Z0-9_.-]*"),
    "env_name": (options.valid_env_name, r"[^=]+"),
}

# letters and digits the patterns treat differently: ASCII classes, Unicode \w and \s, and
# characters that are digits or numbers to str methods but not decimal digits to \d
UNICODE = ["é", "ß", "Ω", "ǅ", "中", "٣", "²", "Ⅻ", "½", "\u00a0", "\u2028", "\u200b", "\x1c", "\x85", "İ", "ﬁ"]
ALPHABET = (list("az09AFfgGZ._-+:[]/@=* \n\t") + ["__", "--", "sha256:", "::1", "localhost"] + UNICODE)


def _agree(kind: str, text: str) -> None:
    check, pattern = PATTERNS[kind]
    expected = re.fullmatch(pattern, text) is not None
    assert check(text) is expected, f"{kind}: {text!r} should be {'accepted' if expected else 'refused'}"


def _random_strings(rng: random.Random, count: int, longest: int) -> list[str]:
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest))) for _ in range(count)]


def _structured(rng: random.Random, count: int) -> list[str]:
    """Strings near each grammar's edges: alnum runs joined by separators, ports, digests, ids."""
    out = []
    runs = ["a", "z9", "0", "abc", "A", "F", "é", "٣", ""]
    seps = [".", "_", "__", "___", "-", "--", "---", "+", ":", "._", "-_", "..", ""]
    for _ in range(count):
        parts = [rng.choice(runs)]
        for _ in range(rng.randint(0, 4)):
            parts += [rng.choice(seps), rng.choice(runs)]
        out.append("".join(parts))
        hexchars = "0123456789abcdefABCDEFg"
        out.append(rng.choice(["sha256", "sha512", "a+b", "a.b-c_d", "", "A", "sha256.", "-x"]) + rng.choice([":", "", "::"])
                   + "".join(rng.choice(hexchars[:16] if rng.random() < .8 else hexchars)
                             for _ in range(rng.choice([0, 1, 31, 32, 33, 63, 64, 65]))))
        out.append(rng.choice(["", "sha256:", "sha256", "sha256::", "SHA256:"])
                   + "".join(rng.choice("0123456789abcdef" if rng.random() < .9 else "0fFg:")
                             for _ in range(rng.choice([0, 1, 3, 12, 63, 64, 65]))))
        host = rng.choice(["[::1]", "[fe80::1]", "[]", "[::g]", "[:]", "[::1", "::1]", "a-b.c", "-a.b", "a-.b",
                           "a..b", ".a", "a.", "localhost", "Reg.Example.COM", "a_b", "x"])
        out.append(host + rng.choice(["", ":", ":5000", ":0", ":5000:1", ":a", ":٣", ":²", "]", "/"]))
        out.append(rng.choice(["", "a", "_", "é", ".", "-", "٣", "²", " "])
                   + "".join(rng.choice("a_.-é9Z²٣ ") for _ in range(rng.choice([0, 1, 126, 127, 128, 129]))))
    return out


HAND_PICKED = [
    "", " ", "a", "A", "0", "_", "-", ".", "__", "--", "a__b", "a___b", "a--b", "a---b", "a-_b", "a._b", "a..b",
    "-a", "a-", ".a", "a.", "_a", "a_", "library/busybox", "busybox", "Busybox", "busy box", "a\n", "\na", "a\nb",
    "[::1]", "[::1]:5000", "[::1]:", "[::1]5000", "[]", "[::1]:50:00", "[FE80::1]", "localhost:5000", "localhost:",
    "example.com", "example.com:443", "ex-ample.com", "-example.com", "example-.com", "exa_mple.com", "a:b:c",
    "latest", "v1.2.3", "1.0-rc.1", "é", "ü2", "١٢٣", "²", "Ⅻ", "a" * 127, "a" * 128, "a" * 129, "_" * 128,
    "sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 31, "sha256:" + "a" * 32, "sha256:" + "g" * 32,
    "sha256+b64u:" + "f" * 32, "sha256.:" + "f" * 32, "sha256:", ":" + "f" * 32, "abc", "ABC", "abcdef" * 11,
    "f" * 64, "f" * 65, "sha256:abc", "sha256:", "sha256:sha256:abc", "PATH", "A=B", "A B", "A\tB", "A\u00a0B",
    "A\x1cB", "A\u200bB", "*", "FOO*", "my-container", "my_container.1", "1", "_x", ".x", "-x", "x!", "ﬁ",
]


@pytest.mark.parametrize("kind", sorted(PATTERNS))
def test_validator_accepts_what_the_pattern_accepts(kind):
    rng = random.Random(f"grammar-{kind}")
    samples = HAND_PICKED + _random_strings(rng, 15000, 10) + _structured(rng, 3000)
    for text in samples:
        _agree(kind, text)


@pytest.mark.parametrize("kind", ["tag", "env_name", "name", "component", "hex_id"])
def test_every_code_point_alone_and_after_a_letter(kind):
    """\\w (the tag) and \\s (-e names) are Unicode classes; the other classes are ASCII."""
    check, pattern = PATTERNS[kind]
    compiled = re.compile(pattern)
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        for text in (c, "a" + c):
            assert check(text) is (compiled.fullmatch(text) is not None), f"{kind}: {text!r}"


@pytest.mark.parametrize("kind", sorted(set(PATTERNS) - {"env_name"}))   # (a variable's name may hold one, as in podman)
def test_trailing_newline_is_refused(kind):
    check, pattern = PATTERNS[kind]
    accepted = {"component": "abc", "tag": "latest", "digest": "sha256:" + "a" * 64, "domain": "localhost:5000",
                "hex_id": "abc123", "name": "web", "env_name": "PATH"}[kind]
    assert check(accepted)
    assert re.match(f"^(?:{pattern})$", accepted + "\n"), "the old anchored pattern let a final newline through"
    assert not check(accepted + "\n")


def test_references_still_parse():
    ref = reference.parse("[::1]:5000/my_org/app-x:v1.0@sha256:" + "a" * 64)
    assert (ref.domain, ref.path, ref.tag) == ("[::1]:5000", "my_org/app-x", "v1.0")
    with pytest.raises(reference.ReferenceError_, match="bad tag"):
        reference.parse("busybox:" + "a" * 129)
    with pytest.raises(reference.ReferenceError_, match="lowercase"):
        reference.parse("example.com/Busybox")
    with pytest.raises(reference.ReferenceError_, match="bad digest"):
        reference.parse("busybox@sha256:" + "a" * 31)
