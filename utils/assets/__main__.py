"""``python -m utils.assets``: see :mod:`utils.assets.cli`."""

from utils.assets import cli

if __name__ == "__main__":
    raise SystemExit(cli.main())
