"""``python -m utils.assets``: where each asset is, ``fetch [NAME ...]``, ``mirror DIR [NAME ...]``.

Example:
    $ python -m utils.assets                  # where each asset is, verified (no network)
    $ python -m utils.assets fetch lfw_full   # get what is missing
"""

from __future__ import annotations

import argparse
from pathlib import Path

from utils.assets import provision
from utils.errors import AssetError, UsageError, report


def main(argv: list[str] | None = None) -> int:
    """The command line: status (default), ``fetch [NAME ...]``, ``mirror DIR [NAME ...]``.

    Returns:
        0 on success, 2 when an asset could not be had (one ``error:`` line on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m utils.assets", description="Show, fetch or mirror the course's weights and data sets."
    )
    parser.add_argument("--download", metavar="NAME", help="same as `fetch NAME`")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("status", help="where each asset is, verified (the default; no network)")
    fetch_parser = commands.add_parser("fetch", help="get missing assets: mirrors first, else the canonical URLs")
    fetch_parser.add_argument("names", nargs="*", metavar="NAME")
    fetch_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch_parser.add_argument("--offline", action="store_true", help="never use the network; only report")
    mirror_parser = commands.add_parser("mirror", help="copy or fetch assets into DIR (for COURSE_ASSETS=DIR)")
    mirror_parser.add_argument("directory", metavar="DIR")
    mirror_parser.add_argument("names", nargs="*", metavar="NAME")
    mirror_parser.add_argument("--quiet", action="store_true", help="no progress bars")
    mirror_parser.add_argument(
        "--offline", action="store_true", help="copy what this machine has, never use the network"
    )
    args = parser.parse_args(argv)
    try:
        if args.download:
            lines = provision.ensure([args.download])
        elif args.command == "fetch":
            lines = provision.ensure(args.names, progress=not args.quiet, download=not args.offline)
        elif args.command == "mirror":
            lines = provision.mirror(args.directory, args.names, progress=not args.quiet, download=not args.offline)
        else:
            print(provision.status_table())
            return 0
    except (ValueError, OSError) as error:
        return report(UsageError(str(error)) if isinstance(error, ValueError) else error)
    print("\n".join(lines))
    failed = provision._failures(lines)
    if failed:
        return report(AssetError(f"{len(failed)} asset(s) could not be had: {', '.join(failed)} (see above)"))
    if args.command == "mirror":
        print(f"Use it with: COURSE_ASSETS={Path(args.directory).expanduser().resolve()} python -m utils.assets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
