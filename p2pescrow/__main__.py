"""``python -m p2pescrow``: the command line."""

from p2pescrow.cli import main

main()
