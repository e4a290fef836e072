"""``python -m utils.nst``: see :mod:`utils.nst.cli`."""

from utils.nst import cli

if __name__ == "__main__":
    raise SystemExit(cli.main())
