"""The order a pod's start takes its containers in (engine/podinit.py)."""

from podpy.engine import podinit
from podpy.state import ContainerConfig, ContainerRecord


def _rec(name: str, created: float, infra: bool = False, init_ctr: str = "") -> ContainerRecord:
    return ContainerRecord(id=name * 8, name=name, image_id="", image_name="", created=created, state="created",
                           config=ContainerConfig(command=[], entrypoint=[], env=[], pod="p", pod_infra=infra, init_ctr=init_ctr))


def test_infra_then_init_containers_in_creation_order_then_the_others():
    recs = [_rec("infra", 1, infra=True), _rec("web", 2), _rec("once", 3, init_ctr="once"),
            _rec("always", 4, init_ctr="always"), _rec("db", 5)]
    infra, init, rest = podinit.split(recs)
    assert [r.name for r in infra] == ["infra"]
    assert [r.name for r in init] == ["once", "always"]
    assert [r.name for r in rest] == ["web", "db"]


def test_a_pod_without_init_containers():
    infra, init, rest = podinit.split([_rec("infra", 1, infra=True), _rec("web", 2)])
    assert (len(infra), init, [r.name for r in rest]) == (1, [], ["web"])
