"""`python -m podpy` and the `podpy` command."""

import sys

if "os" not in sys.modules:   # the `podpy` command: nothing has imported it yet
    from podpy.lightos import install

    install()

import gc  # noqa: E402 - after the light os is in place
import os  # noqa: E402

# A command allocates tens of thousands of objects in its first milliseconds (modules,
# functions, classes, option tables) and nearly all of them live until it exits. With
# the default threshold of 700 the young generation is collected some twenty times over
# them before a `run` has started its container, freeing nothing and costing about 1.5 ms.
# Collections still come, only later: a long-running command (the API service, `logs -f`,
# a build) collects once its objects have grown by this many.
YOUNG_THRESHOLD = 100_000

# What every command line needs first, preloaded (podpy.preload) with what these import, from
# one read of the pack rather than one each through importlib (podpy/engine/paths.py names
# the rest of each fast verb's way)
COMMAND_LINE = ("podpy.cli.main", "podpy.cli.render", "podpy.engine.paths")


# words of a `run` that make it anything but a rootless foreground run here (--preserve-fds:
# its descriptors are counted, and the early stage 1's pipes must not be among them)
_NOT_FOREGROUND = frozenset(("-d", "--detach", "--help", "-h", "--remote", "-r", "--preserve-fds"))


def _foreground_run(args: list[str]) -> bool:
    """Whether this command line looks like a rootless foreground `run`, from its words alone
    (nothing is parsed yet): for rootless/early.py's fork. A wrong guess costs only a
    stage 1 let go unused; a run that does not look like one forks its stage 1 later."""
    if not args or args[0] != "run" or os.geteuid() == 0:
        return False
    if "CONTAINER_HOST" in os.environ or "CONTAINER_CONNECTION" in os.environ:
        return False   # remote: the service starts it
    for arg in args[1:]:
        if arg in _NOT_FOREGROUND or arg.startswith(("--detach=", "--preserve-fds=")):
            return False
        if arg[:1] == "-" and arg[1:].isalpha() and "d" in arg:   # -d in a cluster: -dit
            return False
    return True


def main() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    name = os.path.basename(sys.argv[0])
    if name.endswith("-generator"):
        # podpy-user-generator / podpy-system-generator: a link to podpy (or its zipapp) in
        # systemd's generator directories runs the Quadlet generator, without the CLI
        from podpy.quadlet.generator import main as generator

        code = generator(sys.argv[1:], name)
    else:
        if _foreground_run(sys.argv[1:]):
            from rootless import early

            early.fork()   # its stage 1 forked now, from the small interpreter of the start
        from podpy import preload

        preload(COMMAND_LINE)
        from podpy.cli.main import main as cli_main

        code = cli_main()
    # Tearing the interpreter down (module and object finalisation) costs about 10 ms, a tenth
    # of a `podpy run`; everything that must outlive us is committed or written by now, so
    # flush the streams and leave at once. No podpy code registers atexit handlers.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    except OSError:
        code = code or 125
    os._exit(code if isinstance(code, int) else 125)


if __name__ == "__main__":
    main()
