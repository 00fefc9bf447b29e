"""Ignore files: moby's pattern syntax, exceptions with !, directories excluding what is below."""

import pytest

from podpy.imagebuild.ignore import Matcher, load


@pytest.mark.parametrize("patterns,path,excluded", [
    (["*.log"], "a.log", True),
    (["*.log"], "dir/a.log", False),          # * stays within one component
    (["**/*.log"], "dir/sub/a.log", True),
    (["**/*.log"], "a.log", True),
    (["dir"], "dir/sub/file", True),          # a directory excludes what is below it
    (["/dir/"], "dir/file", True),            # cleaned: leading and trailing / dropped
    (["./a/../b"], "b", True),
    (["a?c"], "abc", True),
    (["a?c"], "a/c", False),
    (["[a-c]x"], "bx", True),
    (["[!a-c]x"], "bx", False),
    (["[!a-c]x"], "dx", True),
    (["\\*star"], "*star", True),
    (["\\*star"], "xstar", False),
    (["dir/**"], "dir/x/y", True),
    (["dir/**"], "dirx", False),
    (["**"], "anything/at/all", True),
    (["*", "!keep"], "keep", False),
    (["*", "!keep"], "other", True),
    (["*.md", "!README.md", "README.md"], "README.md", True),   # the last match decides
    (["docs", "!docs/keep.md"], "docs/keep.md", False),
    (["docs", "!docs/keep.md"], "docs/other.md", True),
    (["# comment", "", "   "], "# comment", False),
    (["a.b"], "aXb", False),                   # regex characters are literal
])
def test_patterns(patterns, path, excluded):
    assert Matcher(patterns).excluded(path) is excluded


def test_may_include_below():
    m = Matcher(["docs", "!docs/keep.md"])
    assert m.may_include_below("docs")
    assert not Matcher(["docs"]).may_include_below("docs")
    assert not Matcher(["docs", "!src/x"]).may_include_below("docs")
    assert Matcher(["docs", "!**/keep"]).may_include_below("docs")


def test_bare_exclamation_is_an_error():
    with pytest.raises(ValueError, match="illegal exclusion"):
        Matcher(["!"])


def test_containerignore_wins_over_dockerignore(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    assert load(str(tmp_path)).excluded("a")
    (tmp_path / ".containerignore").write_text("b\n")
    m = load(str(tmp_path))
    assert m.excluded("b") and not m.excluded("a")
    (tmp_path / "empty").mkdir()
    assert not load(str(tmp_path / "empty"))
