"""`python -m podpy` and the `podpy` command."""

import gc
import os
import sys

# A command allocates tens of thousands of objects in its first milliseconds (modules,
# functions, classes, option tables) and nearly all of them live until it exits. With
# the default threshold of 700 the young generation is collected some twenty times over
# them before a `run` has started its container, freeing nothing and costing about 1.5 ms.
# Collections still come, only later: a long-running command (the API service, `logs -f`,
# a build) collects once its objects have grown by this many.
YOUNG_THRESHOLD = 100_000


def main() -> None:
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    name = os.path.basename(sys.argv[0])
    if name.endswith("-generator"):
        # podpy-user-generator / podpy-system-generator: a link to podpy (or its zipapp) in
        # systemd's generator directories runs the Quadlet generator, without the CLI
        from podpy.quadlet.generator import main as generator

        code = generator(sys.argv[1:], name)
    else:
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
