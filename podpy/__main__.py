"""`python -m podpy` and the `podpy` command."""

import sys


def main() -> None:
    from podpy.cli.main import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
