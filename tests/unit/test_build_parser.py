"""The Containerfile parser: directives, continuations, comments, flags, heredocs, errors."""

import pytest

from podpy.imagebuild.parser import ParseError, parse


def kinds(text):
    return [(i.keyword, i.args) for i in parse(text).instructions]


def test_instructions_keywords_any_case_and_comments():
    cf = parse("# a comment\nfrom busybox AS base\n\n  # indented comment\nRun echo hi\ncmd [\"sh\"]\n")
    assert [(i.keyword, i.args, i.line) for i in cf.instructions] == [
        ("FROM", "busybox AS base", 2), ("RUN", "echo hi", 5), ("CMD", '["sh"]', 6)]
    assert cf.instructions[2].exec_form == ["sh"]
    assert cf.instructions[1].exec_form is None


def test_line_continuations_skip_comments_and_empty_lines():
    text = "FROM x\nRUN echo a \\\n  # inside\n\n    && echo b \\  \n  && echo c\nENV A=1\n"
    cf = parse(text)
    run = cf.instructions[1]
    assert run.args == "echo a     && echo b   && echo c"
    assert (run.line, run.end_line) == (2, 6)
    assert cf.instructions[2].line == 7


def test_escape_directive_backtick_and_syntax():
    cf = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo done\n")
    assert cf.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    assert cf.escape == "`"
    assert cf.instructions[1].args == "dir c:\\   && echo done"


def test_directives_only_at_the_top():
    cf = parse("FROM x\n# escape=`\nRUN echo \\\n a\n")
    assert cf.escape == "\\" and cf.directives == {}
    assert cf.instructions[1].args == "echo  a"
    # an unknown directive ends the directive block: the escape after it is a comment
    cf = parse("# foo=bar\n# escape=`\nFROM x\n")
    assert cf.escape == "\\"


def test_bad_directives():
    with pytest.raises(ParseError, match="Containerfile:2: only one escape"):
        parse("# escape=`\n# escape=\\\nFROM x\n")
    with pytest.raises(ParseError, match="invalid escape token"):
        parse("# escape=x\nFROM x\n")


def test_flags_are_split_from_arguments():
    ins = parse("FROM x\nCOPY --from=build --chown=1:2 --link a b\n").instructions[1]
    assert ins.flags == [("from", "build"), ("chown", "1:2"), ("link", None)]
    assert ins.args == "a b" and ins.flag("link") == "" and ins.flag("chmod") is None
    run = parse("FROM x\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make\n").instructions[1]
    assert run.flag_values("mount") == ["type=cache,target=/c", "type=tmpfs,target=/t"]
    assert run.display() == "RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t make"


def test_unknown_instruction_and_flag_name_the_line():
    with pytest.raises(ParseError, match=r"^Containerfile:3: unknown instruction: FOO$"):
        parse("FROM x\n\nFOO bar\n")
    with pytest.raises(ParseError, match=r"Dockerfile:2: unknown flag for RUN: --chown"):
        parse("FROM x\nRUN --chown=1 true\n", "Dockerfile")


@pytest.mark.parametrize("text,message", [
    ("FROM\n", "FROM takes an image"),
    ("FROM a b\n", "FROM takes an image"),
    ("FROM a AS 1x\n", "invalid stage name"),
    ("FROM x\nENV\n", "ENV requires at least one argument"),
    ("FROM x\nENV A\n", "gives it no value"),
    ("FROM x\nLABEL a=1 b\n", "can't find ="),
    ("FROM x\nCOPY onlyone\n", "COPY requires at least two arguments"),
    ("FROM x\nWORKDIR\n", "WORKDIR requires exactly one argument"),
    ("FROM x\nUSER a b\n", "USER requires exactly one argument"),
    ("FROM x\nSHELL /bin/bash -c\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM x\nHEALTHCHECK echo\n", "HEALTHCHECK takes CMD or NONE"),
    ("FROM x\nONBUILD FROM y\n", "isn't allowed as an ONBUILD trigger"),
    ("FROM x\nRUN\n", "RUN requires at least one argument"),
])
def test_syntax_errors(text, message):
    with pytest.raises(ParseError, match=message) as info:
        parse(text)
    assert str(info.value).startswith("Containerfile:")


def test_run_heredoc():
    text = "FROM x\nRUN <<EOF\necho one\n  echo two\nEOF\nRUN echo after\n"
    cf = parse(text)
    run = cf.instructions[1]
    assert run.args == "<<EOF"
    assert [(h.name, h.content, h.expand) for h in run.heredocs] == [("EOF", "echo one\n  echo two\n", True)]
    assert (run.line, run.end_line) == (2, 5)
    assert cf.instructions[2].args == "echo after"


def test_heredoc_quoted_tab_stripping_and_several():
    text = ("FROM x\nCOPY <<-\"A\" <<B /dest/\n\tline $X\n\tA\nsecond\nB\n")
    ins = parse(text).instructions[1]
    assert [(h.name, h.content, h.expand, h.strip_tabs) for h in ins.heredocs] == [
        ("A", "line $X\n", False, True), ("B", "second\n", True, False)]
    assert parse("FROM x\nRUN cat 3<<EOF\nhi\nEOF\n").instructions[1].heredocs[0].fd == 3


def test_heredoc_markers_inside_quotes_are_text_and_unterminated_is_an_error():
    assert parse("FROM x\nRUN echo '<<EOF'\n").instructions[1].heredocs == []
    assert parse("FROM x\nRUN cat <<<word\n").instructions[1].heredocs == []
    with pytest.raises(ParseError, match="Containerfile:2: the heredoc EOF is not terminated"):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_crlf_and_bom():
    assert kinds("\ufeffFROM x\r\nRUN a\r\n") == [("FROM", "x"), ("RUN", "a")]
