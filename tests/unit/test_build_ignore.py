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
    # buildah looks below an excluded directory only for an exception that starts with its path
    assert not Matcher(["docs", "!**/keep"]).may_include_below("docs")
    m = Matcher(["subdir1", "subdir2", "!*/sub1*", "!subdir1/sub3*"])
    assert m.may_include_below("subdir1") and not m.may_include_below("subdir2")
    assert not m.may_include_below("subdir1/sub2")
    # walking, a string prefix; for a directory a source names, the exception starts with DIR/
    m = Matcher(["subdir1", "!subdir1*/x"])
    assert m.may_include_below("subdir1") and not m.may_include_below("subdir1", named=True)
    assert Matcher(["e", "!e/nothing"]).may_include_below("e", named=True)


def test_load_names_the_file(tmp_path):
    (tmp_path / ".dockerignore").write_text("a\n")
    assert load(str(tmp_path)).source == str(tmp_path / ".dockerignore")
    assert Matcher(["a"]).source == ""


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


def _tree(tmp_path, files, ignore):
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / ".dockerignore").write_text(ignore)
    from podpy.imagebuild.context import Context

    return Context(str(tmp_path), load(str(tmp_path)))


def test_an_exception_reaches_into_an_excluded_directory_only_by_its_name(tmp_path):
    c = _tree(tmp_path, ["subdir1/sub1/f", "subdir1/sub2/f", "subdir1/sub3/f", "subdir1/file",
                         "subdir2/sub1/f", "subdir2/sub3/f", "top"],
              "subdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n")
    [top] = c.sources(".", "COPY")
    walked = {rel: st for rel, _p, st in c.walk(top)}
    assert sorted(walked) == [".dockerignore", "subdir1", "subdir1/sub1", "subdir1/sub1/f",
                              "subdir1/sub3", "subdir1/sub3/f", "top"]
    # the excluded parent is there as buildah makes one
    assert walked["subdir1"].st_mode & 0o7777 == 0o755


def test_a_source_every_pattern_leaves_out_is_an_error(tmp_path):
    from podpy.errors import InvalidArgument

    c = _tree(tmp_path, ["subdir/sub1/f", "subdir/a", "e/x/f"], "*\nsubdir\n!*/sub1*\ne\n!e/nothing\n")
    for name in ("subdir", "e"):   # e: looked into for !e/nothing, which brings nothing back
        with pytest.raises(InvalidArgument) as err:
            c.sources(name, "COPY")
        assert str(err.value) == (f'no items matching glob "{tmp_path / name}" copied (1 filtered out using '
                                  f'{tmp_path / ".dockerignore"}): no such file or directory')
    with pytest.raises(InvalidArgument, match="no such file or directory in the build context"):
        c.sources("absent", "COPY")
