"""``python -m jaxsched``: the command line (see :mod:`jaxsched._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
