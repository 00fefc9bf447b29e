"""The pure parts of `system doctor`: reading /etc/subuid-style text, overlapping ranges, the
free range a fix proposes, and the verdicts drawn from given entries."""

from __future__ import annotations

from podpy.engine.doctor import free_subid_range, subid_findings
from rootless.userns import parse_subids, subid_overlaps

TEXT = """\
alice:100000:65536
# a comment
bob:165536:65536
broken line
carol:x:10
1005:231072:65536
dave:300000:0
"""


def test_parse_subids_keeps_well_formed_lines_only():
    assert parse_subids(TEXT) == [("alice", 100000, 65536), ("bob", 165536, 65536), ("1005", 231072, 65536)]


def test_parse_subids_of_empty_text():
    assert parse_subids("") == [] and parse_subids("\n\n") == []


def test_adjacent_ranges_do_not_overlap():
    entries = parse_subids(TEXT)
    assert subid_overlaps(entries, "alice", 1000) == []
    assert subid_overlaps(entries, "bob", 1001) == []


def test_an_overlap_names_both_ranges():
    entries = [("alice", 100000, 65536), ("eve", 165535, 10), ("bob", 200000, 5)]
    assert subid_overlaps(entries, "alice", 1000) == [((100000, 65536), ("eve", 165535, 10))]
    assert subid_overlaps(entries, "eve", 1009) == [((165535, 10), ("alice", 100000, 65536))]
    assert subid_overlaps(entries, "bob", 1001) == []


def test_a_range_inside_another_overlaps():
    entries = [("alice", 100000, 65536), ("eve", 120000, 1)]
    assert subid_overlaps(entries, "eve", 1009) == [((120000, 1), ("alice", 100000, 65536))]


def test_the_user_may_be_written_as_a_uid():
    entries = [("1005", 100000, 65536), ("alice", 100000, 65536)]
    assert subid_overlaps(entries, "frank", 1005) == [((100000, 65536), ("alice", 100000, 65536))]
    assert subid_overlaps(entries, "alice", 1005) == []   # both lines are the same user's


def test_free_range_skips_every_used_id_in_both_files():
    files = {"subuid": [("alice", 100000, 65536)], "subgid": [("bob", 165536, 100)]}
    assert free_subid_range(files) == (165636, 231171)
    assert free_subid_range({"subuid": [], "subgid": []}) == (100000, 165535)
    assert free_subid_range({"subuid": [("x", 0, 50000)]}) == (100000, 165535)


def _by_check(findings):
    return {f.check: f for f in findings}


def test_verdicts_healthy():
    files = {"subuid": [("alice", 100000, 65536)], "subgid": [("alice", 100000, 65536)]}
    found = _by_check(subid_findings(files, {}, "alice", 1000))
    assert found["subuid"].status == "ok" and found["subgid"].status == "ok"
    assert found["subuid"].message == "65536 subordinate user ids (100000-165535) in /etc/subuid"
    assert found["subuid"].fix == ""


def test_verdicts_missing_range():
    files = {"subuid": [("bob", 100000, 65536)], "subgid": [("bob", 100000, 65536)]}
    found = _by_check(subid_findings(files, {}, "alice", 1000))
    assert found["subuid"].status == "fail" and found["subuid"].admin
    assert found["subuid"].message.startswith("no subordinate user ids for alice in /etc/subuid: containers run with "
                                              "one user id only: images that chown files will fail")
    assert found["subuid"].fix == "sudo usermod --add-subuids 165536-231071 alice"
    assert found["subgid"].fix == "sudo usermod --add-subgids 165536-231071 alice"


def test_verdicts_small_range():
    files = {"subuid": [("alice", 100000, 1000)], "subgid": [("alice", 100000, 65536)]}
    found = _by_check(subid_findings(files, {}, "alice", 1000))
    assert found["subuid"].status == "warn" and found["subuid"].message.startswith("only 1000 subordinate user ids")
    assert found["subgid"].status == "ok"


def test_verdicts_overlap():
    files = {"subuid": [("alice", 100000, 65536), ("bob", 100000, 65536)], "subgid": [("alice", 100000, 65536)]}
    found = _by_check(subid_findings(files, {}, "alice", 1000))
    assert found["subuid"].status == "warn"
    assert "your range 100000-165535 shares ids with bob's 100000-165535" in found["subuid"].message
    assert found["subuid"].fix == "sudo usermod --del-subuids 100000-165535 --add-subuids 165536-231071 alice"


def test_verdicts_unreadable_file_is_one_finding_and_the_other_is_still_checked():
    files = {"subuid": None, "subgid": [("alice", 100000, 65536)]}
    found = _by_check(subid_findings(files, {"subuid": "Permission denied"}, "alice", 1000))
    assert found["subuid"].status == "fail"
    assert found["subuid"].message == "/etc/subuid cannot be read (Permission denied): containers cannot start"
    assert found["subuid"].fix == "sudo chmod 0644 /etc/subuid"
    assert found["subgid"].status == "ok"


def test_no_cause_line_for_an_error_with_no_host_words():
    from podpy.engine.doctor import cause_of

    assert cause_of(ValueError("image not known: localhost/nothing:latest"), rootless=True) is None


def test_no_cause_line_as_root():
    from podpy.engine.doctor import cause_of

    assert cause_of(OSError("newuidmap: write to uid_map failed: Operation not permitted"), rootless=False) is None


def test_the_cause_is_looked_for_along_the_chain():
    from podpy.engine.doctor import _chain

    try:
        try:
            raise OSError("unshare: No space left on device")
        except OSError as inner:
            raise RuntimeError("starting the container") from inner
    except RuntimeError as outer:
        assert _chain(outer) == "starting the container | unshare: No space left on device"
