"""Which image a build step started from: what `images` hides and `image prune` keeps."""

from podpy.engine.imagestore import intermediate, parents
from storage.images import Image


def image(iid, names, steps, layers):
    history = [{"created": f"t{i}", "created_by": s} for i, s in enumerate(steps)]
    return Image(iid, tuple(names), {"history": history}, tuple(layers), 0, 0.0)


def test_parents_follow_history_and_layers():
    base = image("base", ["busybox"], ["ADD"], ["L1"])
    env = image("env", [], ["ADD", "ENV"], ["L1"])
    run = image("run", [], ["ADD", "ENV", "RUN"], ["L1", "L2"])
    final = image("final", ["app"], ["ADD", "ENV", "RUN", "CMD"], ["L1", "L2"])
    other = image("other", [], ["ADD", "ENV", "RUN"], ["L1", "L3"])   # same steps, other layer
    lone = image("lone", [], ["X"], ["L9"])
    got = parents([base, env, run, final, other, lone])
    assert got == {"env": "base", "run": "env", "final": "run", "other": "env"}
    assert intermediate([base, env, run, final, other, lone]) == {"env", "run"}
