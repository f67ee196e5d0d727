"""`python -m archsim ...` runs the command line (archsim/cli.py)."""

import sys

from archsim.cli import main

sys.exit(main())
