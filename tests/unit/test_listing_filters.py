"""The listings' filters, orders and views, as podman 4.3.1 has them: `ps --filter` keys over
container records, `images --filter` over a real store, and the template views of `ps`,
`stats`, `events` and `info`."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from podpy.cli import gotemplate
from podpy.cli.views import event_line, event_row, event_time, info_view, ps_row, sort_image_rows, stats_json, \
    stats_row
from podpy.engine import imagefilter, psfilter
from podpy.engine.context import Runtime
from podpy.engine.entities import PsEntry
from podpy.engine.events_read import report
from podpy.engine.images import ImageEngine
from podpy.errors import InvalidArgument, NoSuchContainer
from podpy.formats import binary_size, go_duration_text
from podpy.state import ContainerConfig


def _rec(name: str, created: float, state: str = "running", **config: object) -> SimpleNamespace:
    cfg = ContainerConfig(command=["sleep", "1"], entrypoint=[], env=[], **config)
    return SimpleNamespace(id=f"{name:0<12}" + "f" * 52, name=name, created=created, state=state, exit_code=0,
                           image_name="localhost/busybox:latest", image_id="b" * 64, config=cfg, pid=0,
                           started_at=created, finished_at=None)


RECS = [_rec("web1", 10, labels={"team": "a"}), _rec("web2", 20, state="exited", restart="always"),
        _rec("db", 30, state="created", mounts=[{"destination": "/data", "volume": "vol", "source": "/x"},
                                                 {"destination": "/src", "source": "/home/src", "type": "bind"}])]
RECS[1].exit_code = 3


class _State:
    def lookup(self, name: str) -> SimpleNamespace:
        for r in RECS:
            if name in (r.name, r.id):
                return r
        raise NoSuchContainer(f'no container with name or ID "{name}" found: no such container')


@pytest.fixture(scope="module")
def fake_rt(tmp_path_factory):
    """Containers as above, and a database with one pod, "pod1", which holds web1."""
    from storage.db import Database

    from podpy.engine.podstore import PodConfig, PodRecord, PodStore

    db = Database(str(tmp_path_factory.mktemp("db") / "podpy.db"))
    db.migrate("containers", ("CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT)",))
    PodStore(db).insert(PodRecord(id="c" * 64, name="pod1", created=1.0, config=PodConfig()))
    RECS[0].config.pod = "c" * 64
    return SimpleNamespace(state=_State(), db=db)


@pytest.fixture
def names_of(fake_rt):
    def names(*filters: str) -> list[str]:
        match = psfilter.matcher(fake_rt, psfilter.group(list(filters)))  # type: ignore[arg-type]
        return [r.name for r in RECS if match(r)]
    return names


@pytest.mark.parametrize("filters, names", [
    (["name=web"], ["web1", "web2"]),
    (["name=^db$"], ["db"]),
    (["name=web1", "name=db"], ["web1", "db"]),             # one key's values: any of them
    (["name=web", "status=exited"], ["web2"]),              # different keys: all of them
    (["id=web2"], ["web2"]),
    (["label=team"], ["web1"]), (["label=team=a"], ["web1"]), (["label=team=b"], []),
    (["label=team", "label=other"], []),                    # every label must match
    (["status=stopped"], ["web2"]), (["status=created"], ["db"]),
    (["exited=3"], ["web2"]), (["exited=0"], []),
    (["ancestor=localhost/busybox"], ["web1", "web2", "db"]), (["ancestor=busybox"], []),
    (["ancestor=" + "b" * 64], ["web1", "web2", "db"]),
    (["before=db"], ["web1", "web2"]), (["since=web1"], ["web2", "db"]),
    (["volume=vol"], ["db"]), (["volume=/src"], ["db"]), (["volume=vol:/data"], ["db"]), (["volume=/data"], []),
    (["restart-policy=always"], ["web2"]), (["restart-policy=none"], ["web1", "db"]),
    (["pod=anything"], []), (["pod=pod1"], ["web1"]), (["pod=" + "c" * 12], ["web1"]),
    (["until=1970-01-01T00:00:25Z"], ["web1", "web2"]),
])
def test_ps_filters_match_as_podman(filters, names, names_of):
    assert names_of(*filters) == names


@pytest.mark.parametrize("filters, message", [
    (["bogus=1"], "bogus is an invalid filter"),
    (["label!=a"], "label! is an invalid filter"),
    (["name"], 'invalid filter "name"'),
    (["status=stopping"], "unknown container state: stopping: invalid argument"),
    (["exited=x"], "exited code out of range '\\x00': strconv.ParseInt: parsing \"x\": invalid syntax"),
    (["restart-policy=x", "restart-policy=y"], "x, y invalid restart policies"),
    (["until=soon"], 'failed to parse value as time or duration: "soon"'),
    (["since=nope"], 'no container with name or ID "nope" found'),
])
def test_ps_filter_errors_are_podmans(filters, message, names_of):
    with pytest.raises((InvalidArgument, NoSuchContainer)) as err:
        names_of(*filters)
    assert message in str(err.value)


def test_ps_row_size_namespaces_and_podmans_fields():
    rec = RECS[0]
    data = {"Command": ["sleep", "1"], "Status": "Up 2 seconds ago", "State": "running", "Networks": [],
            "Mounts": [], "ExitedAt": -62135596800, "Size": {"rwSize": 12, "rootFsSize": 1984323},
            "Namespaces": {"Pidns": "4026532389", "User": "4026532174"}}
    row = ps_row(PsEntry(rec, data, None), no_trunc=False, size=True)
    assert row["Size"] == "12B (virtual 1.98MB)"
    assert row["State"] == "Up 2 seconds ago" and row["ID"] == rec.id[:12] and row["ImageID"] == "b" * 12
    assert row["PIDNS"] == "4026532389" and row["User"] == row["USERNS"] == "4026532174" and row["NET"] == ""
    assert ps_row(PsEntry(rec, data, None), no_trunc=True)["Size"] == ""   # only with --size


def _port(host: int, ctr: int) -> dict:
    return {"host_ip": "", "host_port": host, "container_port": ctr, "protocol": "tcp"}


def test_ps_shows_the_ports_of_the_container_whose_network_is_joined():
    """A pod's member (`--network container:INFRA`), and a container joining one that joins,
    shows the ports the container with the network publishes, as podman's ps does."""
    from podpy.engine.listing import _published

    infra = _rec("infra", 1, network="slirp4netns", ports=[_port(6234, 5234)])
    member = _rec("member", 2, network=f"container:{infra.id}")
    second = _rec("second", 3, network=f"container:{member.id}")
    orphan = _rec("orphan", 4, network="container:" + "9" * 64)
    every = [infra, member, second, orphan]
    assert _published(member, every) == _published(second, every) == [_port(6234, 5234)]
    assert _published(orphan, every) == []
    data = {"Command": ["sleep", "1"], "Status": "Created", "State": "created", "Networks": [], "Mounts": [],
            "ExitedAt": -62135596800, "Ports": [{"host_ip": "", "container_port": 5234, "host_port": 6234,
                                                 "range": 2, "protocol": "tcp"}]}
    assert ps_row(PsEntry(member, data, None), no_trunc=False)["Ports"] == "0.0.0.0:6234-6235->5234-5235/tcp"


def _image(rt: Runtime, *names: str, created: str, labels: dict[str, str] | None = None) -> str:
    config = {"created": created, "architecture": "amd64", "os": "linux", "config": {"Labels": labels or {}},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    return rt.store.create_image(config, [], list(names)).id


def test_image_filters_over_a_store(rt):
    old = _image(rt, "localhost/busybox:latest", "localhost/other:1", created="2024-01-01T00:00:00Z")
    new = _image(rt, "quay.io/team/app:2", created="2024-06-01T00:00:00Z", labels={"k": "v"})
    engine = ImageEngine(rt, print)

    def ids(*filters: str) -> list[str]:
        return sorted(s.image.id for s in engine.ls(filters=list(filters)))

    assert ids("reference=busybox") == [old] and ids("reference=other:1") == [old]
    assert ids("reference=*box") == [old] and ids("reference=local*") == []
    assert ids("reference=localhost/*") == [old] and ids("reference=team/app") == [new]
    assert ids("reference=busybox", "reference=app") == sorted([old, new])   # references: any of them
    assert ids("label=k=v") == [new] and ids("label!=k") == [old]
    assert ids("before=app:2") == [old] and ids("since=busybox") == [new] and ids("after=busybox") == [new]
    assert ids("until=2024-03-01T00:00:00Z") == [old]
    assert ids("id=" + old) == [old] and ids("id=" + old[:12]) == []
    assert ids("dangling=false") == sorted([old, new]) and ids("dangling=true") == []
    assert ids("readonly=true") == [] and ids("manifest=false") == sorted([old, new])
    assert ids("containers=false") == sorted([old, new]) and ids("containers=true") == []
    for bad, message in (("digest=sha256:x", 'unsupported image filter "digest"'),
                         ("dangling=maybe", 'non-boolean value "dangling" for maybe filter'),
                         ("novalue", 'invalid image filter "novalue": must be in the format'),
                         ("since=nope", 'could not find local image for filter filter "since"="nope"'),
                         ("containers=external", 'unsupported value "external" for containers filter'),
                         ("intermediate=true", 'specifying "intermediate" filter more than once')):
        with pytest.raises(InvalidArgument) as err:
            engine.ls(filters=[bad])
        assert message in str(err.value), bad
    assert ids() == sorted([old, new])
    assert [s.image.id for s in engine.ls(all_=True, filters=["intermediate=true"])] == []


def test_image_prune_takes_the_filters(rt):
    a = _image(rt, created="2024-01-01T00:00:00Z", labels={"keep": "1"})
    b = _image(rt, created="2024-01-02T00:00:00Z")
    engine = ImageEngine(rt, print)
    assert engine.prune(filters=["label=keep"]) == [a]
    assert engine.prune(filters=["until=2024-01-01T00:00:00Z"]) == []
    assert engine.prune() == [b]
    with pytest.raises(InvalidArgument, match="filter input must be in the form of filter=value: x is invalid"):
        engine.prune(filters=["x"])


def test_image_rows_sort_as_podman():
    rows = [{"Id": "b", "_created": 1, "Repository": "z", "Tag": "1", "VirtualSize": 5},
            {"Id": "a", "_created": 2, "Repository": "y", "Tag": "latest", "VirtualSize": 9},
            {"Id": "c", "_created": 2, "Repository": "x", "Tag": "0", "VirtualSize": 1}]
    assert [r["Id"] for r in sort_image_rows(rows, "created")] == ["a", "c", "b"]   # newest first, ties by id
    assert [r["Id"] for r in sort_image_rows(rows, "id")] == ["a", "b", "c"]
    assert [r["Id"] for r in sort_image_rows(rows, "repository")] == ["c", "a", "b"]
    assert [r["Id"] for r in sort_image_rows(rows, "size")] == ["c", "b", "a"]
    assert [r["Id"] for r in sort_image_rows(rows, "tag")] == ["c", "b", "a"]


def test_reference_patterns_are_path_matches():
    assert imagefilter._reference_matches("docker.io/library/*", "docker.io/library/busybox:1")
    assert imagefilter._reference_matches("library/busybox", "docker.io/library/busybox:1")
    assert imagefilter._reference_matches("busybox:1", "docker.io/library/busybox:1")
    assert not imagefilter._reference_matches("docker.io/*", "docker.io/library/busybox:1")   # * stays in a part
    assert not imagefilter._reference_matches("[", "localhost/a:1")
    assert imagefilter._reference_matches("localhost:5000/a", "localhost:5000/a:1")


def test_stats_row_and_json_are_podmans():
    stats = {"ContainerID": "c" * 64, "Name": "web", "AvgCPU": 1.5, "CPU": 12.345, "CPUNano": 2_500_000_000,
             "CPUSystemNano": 0, "SystemNano": 0, "MemUsage": 1_820_000, "MemLimit": 25_300_000_000,
             "MemPerc": 0.0072, "NetInput": 0, "NetOutput": 936, "BlockInput": None, "BlockOutput": None,
             "PIDs": 1, "UpTime": 2_500_000_000, "Duration": 2_500_000_000, "PerCPU": None}
    row = stats_row(stats, no_trunc=False)
    assert row["ID"] == "c" * 12 and row["CPUPerc"] == "12.35%" and row["AVGCPU"] == "1.50%"
    assert row["MemUsage"] == "1.82MB / 25.3GB" and row["MemPerc"] == "0.01%" and row["NetIO"] == "0B / 936B"
    assert row["PIDS"] == "1" and row["PIDs"] == 1 and row["UpTime"] == "2.5s" and row["BlockInput"] == 0
    assert stats_row(stats, no_trunc=True)["ID"] == "c" * 64
    assert stats_json(row) == {"id": "c" * 12, "name": "web", "cpu_time": "2.5s", "cpu_percent": "12.35%",
                               "avg_cpu": "1.50%", "mem_usage": "1.82MB / 25.3GB", "mem_percent": "0.01%",
                               "net_io": "0B / 936B", "block_io": "-- / --", "pids": "1"}
    tmpl = gotemplate.parse("{{.ID}} {{.MemUsage}} {{.PIDs}} {{.CPU}}")
    assert tmpl.execute(row) == "cccccccccccc 1.82MB / 25.3GB 1 12.345"


def test_events_in_podmans_shapes():
    died = {"Type": "container", "Status": "died", "ID": "d" * 64, "Name": "web", "Image": "localhost/a:latest",
            "Time": 1_700_000_000_123_456_789, "Attributes": {"containerExitCode": 137}}
    doc = report(died)
    assert list(doc) == ["ContainerExitCode", "ID", "Image", "Name", "Status", "Time", "Type", "Attributes"]
    assert doc["ContainerExitCode"] == 137 and doc["Attributes"] == {}
    assert doc["Time"].startswith("20") and ".123456789" in doc["Time"]
    vol = report({"Type": "volume", "Status": "create", "ID": "v", "Name": "v", "Time": 0, "Attributes": {}})
    assert "ID" not in vol and vol["Attributes"] is None
    assert event_time("2024-01-02T03:04:05.1Z") == "2024-01-02 03:04:05.1 +0000 UTC"
    line = event_line({**doc, "Time": "2024-01-02T03:04:05Z"}, truncate=True)
    assert line == "2024-01-02 03:04:05 +0000 UTC container died dddddddddddd (image=localhost/a:latest, name=web)"
    assert event_line({**vol, "Time": "2024-01-02T03:04:05Z"}).endswith(" volume create v")
    row = event_row(vol)
    assert row["ContainerExitCode"] == 0 and row["ID"] == "" and row["Network"] == "" and row["PodID"] == ""


def test_info_templates_take_podmans_go_names():
    doc = {"host": {"cgroupVersion": "v2", "security": {"capabilities": "CAP_KILL"}, "arch": "amd64",
                    "distribution": {"distribution": "debian"}},
           "store": {"graphRoot": "/g", "runRoot": "/r"}, "registries": {}, "version": {"Version": "1"}}
    tmpl = gotemplate.parse("{{.Host.CgroupsVersion}} {{.Host.Security.DefaultCapabilities}} {{.Host.Arch}} "
                            "{{.Host.Distribution.Distribution}} {{.Store.GraphRoot}} {{.Store.RunRoot}} "
                            "{{.Version.Version}}")
    assert tmpl.execute(info_view(doc)) == "v2 CAP_KILL amd64 debian /g /r 1"


def test_go_durations_and_binary_sizes():
    assert [go_duration_text(n) for n in (0, 850_000_000, 1_500_000_000, 123_250_000_000, 3_607_000_000_000)] == [
        "0s", "850ms", "1.5s", "2m3.25s", "1h0m7s"]
    assert binary_size(4718592) == "4.5MiB" and binary_size(100) == "100B"


def test_names_matching_keeps_the_names_a_reference_pattern_matches():
    from podpy.engine import imagefilter

    names = ["docker.io/library/myimg:2", "docker.io/library/myimg:latest", "localhost/busybox:latest"]
    assert imagefilter.names_matching(["myimg"], names) == names[:2]
    assert imagefilter.names_matching(["myimg:2", "busy*"], names) == [names[0], names[2]]
    digests = ["docker.io/library/myimg@sha256:" + "a" * 64, "localhost/busybox@sha256:" + "a" * 64]
    assert imagefilter.names_matching(["myimg"], digests) == digests[:1]


def test_rfc3339_to_the_second_in_utc_and_in_local_time(monkeypatch):
    import time

    from podpy.formats import rfc3339_seconds

    assert rfc3339_seconds(0) == "1970-01-01T00:00:00Z"
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    assert rfc3339_seconds(0, local=True) == "1970-01-01T00:00:00Z"
    monkeypatch.setenv("TZ", "CET-1")
    time.tzset()
    try:
        assert rfc3339_seconds(0, local=True) == "1970-01-01T01:00:00+01:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
