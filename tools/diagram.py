"""``python -m tools.diagram`` (``make diagram``): write the trade-state picture README shows,
``docs/trade-states.svg``, from the one state table (:data:`p2pescrow.states.TRANSITIONS`).

``--check`` fails instead when the committed file is not what the table draws (the test suite runs
that check, so the picture cannot drift from the code).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from p2pescrow.diagram import render

PICTURE = Path(__file__).resolve().parent.parent / "docs" / "trade-states.svg"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.diagram", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed picture is out of date")
    args = parser.parse_args(argv)
    drawn = render()
    if args.check:
        if not PICTURE.is_file() or PICTURE.read_text() != drawn:
            print(f"{PICTURE} is not what p2pescrow/states.py draws: run `make diagram`", file=sys.stderr)
            return 1
        print(f"{PICTURE.name} is up to date")
        return 0
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    PICTURE.write_text(drawn)
    print(f"wrote {PICTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
