"""The modules each fast verb's code imports as it goes, for `podpy.preload` to import ahead
in one go (the modules these import at their top level come with them). A module missing
here is imported when it is needed, as any other; one named here that a path no longer
needs costs that path its import.

`run` in two steps: the command line preloads what leads to the engine's `run`, which forks
a foreground container's stage 1 first (rootless/ahead.py: its user namespace is made and
mapped on the other CPU meanwhile) and then preloads the rest of its way."""

ENGINE = ("podpy.cli.runargs", "podpy.cli.render", "podpy.engine.runoptions", "podpy.engine.runverbs",
          "podpy.engine.context", "podpy.engine.kernelopts")
CREATE = ("storage.db", "storage.store", "podpy.state", "podpy.engine.reconcile", "podpy.engine.create",
          "storage.drivers.overlay", "storage.transports.refs", "podpy.engine.retries",
          "podpy.registry.conf", "podpy.engine.procopts", "podpy.engine.cgroupopts", "podpy.network.config",
          "podpy.engine.healthopts")
FOREGROUND = ("podpy.engine.foreground", "rootless.parent", "podpy.network.files", "podpy.network.start",
              "podpy.engine.hooks", "rootless.cgroups")
EXEC = ("podpy.cli.runargs", "podpy.engine.runoptions", "podpy.engine.context", "podpy.engine.execute",
        "rootless.tty", "rootless.execute", "rootless.child", "podpy.engine.forward", "podpy.engine.spec",
        "rootless.userns", "storage.drivers.overlay", "storage.fsutil")

# What both sides of a foreground run need: imported just before stage 1's fork, the host
# side's copy serves stage 1 as well (the mount helpers of its set-up, the removal of a --rm
# container's directory at its end), which would import them again beside the host's work.
SHARED = ("rootless.rootfs", "rootless.capabilities", "storage.staging", "storage.fsutil")

# what the command line preloads for each fast verb (run's rest: RunVerbs.run)
PATHS = {
    "run": (*ENGINE, "rootless.ahead", "rootless.userns", "rootless.sync"),
    "create": (*ENGINE, *CREATE),
    "exec": EXEC,
}
