"""ARG/ENV expansion and word splitting, BuildKit's way."""

import pytest

from podpy.imagebuild.words import ExpansionError, expand, expand_words, name_values, split_raw

ENV = {"A": "aa", "B": "two words", "E": ""}


@pytest.mark.parametrize("text,want", [
    ("$A", "aa"), ("${A}", "aa"), ("x${A}y", "xaay"), ("$A$A", "aaaa"), ("$NOPE", ""),
    ("'$A'", "$A"), ('"$A"', "aa"), ('"a  b"', "a  b"), ("\\$A", "$A"), ('"\\$A"', "$A"),
    ('"a\\"b"', 'a"b'), ('"a\\nb"', "a\\nb"), ("a\\ b", "a b"), ("$", "$"), ("a$ b", "a$ b"),
    ("${NOPE:-def}", "def"), ("${E:-def}", "def"), ("${E-def}", ""), ("${A:-def}", "aa"),
    ("${A:+alt}", "alt"), ("${E:+alt}", ""), ("${E+alt}", "alt"), ("${NOPE+alt}", ""),
    ("${NOPE:-${A}x}", "aax"), ("${NOPE:-'q w'}", "q w"), ("$1", ""),
])
def test_expand(text, want):
    assert expand(text, ENV) == want


def test_errors():
    with pytest.raises(ExpansionError, match="single-quote"):
        expand("'abc", ENV)
    with pytest.raises(ExpansionError, match="double-quote"):
        expand('"abc', ENV)
    with pytest.raises(ExpansionError, match="NOPE: must be set"):
        expand("${NOPE:?must be set}", ENV)
    with pytest.raises(ExpansionError, match="unsupported modifier"):
        expand("${A/x/y}", ENV)
    with pytest.raises(ExpansionError, match="bad substitution"):
        expand("${}", ENV)


def test_backtick_escape():
    assert expand("c:\\dir `$A", ENV, "`") == "c:\\dir $A"


def test_words_split_unquoted_expansions_only():
    assert expand_words("$B \"$B\" x\\ y", ENV) == ["two", "words", "two words", "x y"]
    assert expand_words("  a   b  ", ENV) == ["a", "b"]
    assert expand_words("''", ENV) == [""]


def test_split_raw_keeps_quotes():
    assert split_raw('a="x y" b=\'1 2\' c=3\\ 4') == ['a="x y"', "b='1 2'", "c=3\\ 4"]


def test_name_values():
    assert name_values('A=1 B="x y"', "ENV") == [("A", "1"), ("B", '"x y"')]
    assert name_values("A some value here", "ENV") == [("A", "some value here")]
    assert name_values("X Y=2", "ARG") == [("X", None), ("Y", "2")]
    with pytest.raises(ValueError):
        name_values("A=1 B", "LABEL")
