"""engine/podservice.py: the service container of `kube play --service-container`, by podman's rules."""

import hashlib
from types import SimpleNamespace

import pytest

from podpy.engine.podservice import SERVICE_LABEL, can_stop, is_service, refuse_removal, service_name
from podpy.engine.podstore import PodConfig, PodRecord, PodStore
from podpy.errors import PodpyError
from storage.db import Database


def _rec(cid, state, pod="", labels=None, infra=False):
    return SimpleNamespace(id=cid, state=state, created=1.0, config=SimpleNamespace(pod=pod, pod_infra=infra, init_ctr="",
                                                                       labels=labels or {}))


def test_the_name_is_the_yaml_files_sha256_as_podman_names_it():
    text = "apiVersion: v1\nkind: Pod\n"
    assert service_name(text) == hashlib.sha256(text.encode()).hexdigest()[:12] + "-service"


def test_the_service_container_is_not_removed_while_its_pod_runs(tmp_path):
    db = Database(str(tmp_path / "podpy.db"))
    db.migrate("containers", ("CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT)",))
    PodStore(db).insert(PodRecord(id="p" * 64, name="web", created=1.0, config=PodConfig(), infra_id="i" * 64))
    svc = _rec("s" * 64, "running", labels={SERVICE_LABEL: "web"})
    recs = [svc, _rec("i" * 64, "running", "p" * 64, infra=True), _rec("c" * 64, "running", "p" * 64)]
    rt = SimpleNamespace(db=db, cfg=SimpleNamespace(namespace=None), state=SimpleNamespace(all=lambda: recs))
    assert is_service(svc) and not is_service(recs[1])
    with pytest.raises(PodpyError, match=f"^container {'s' * 64} is the service container of pod\\(s\\) {'p' * 64} "
                                         "and cannot be removed without removing the pod\\(s\\)$"):
        refuse_removal(rt, svc)
    recs[1].state = recs[2].state = "exited"
    assert can_stop(rt, svc)
    refuse_removal(rt, svc)   # its pod stopped: it may go
