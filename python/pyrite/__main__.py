"""`python -m pyrite`: the same as the `pyrite` command."""

import sys

from pyrite import main

if __name__ == "__main__":
    sys.exit(main())
