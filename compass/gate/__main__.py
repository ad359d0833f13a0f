"""`python -m compass.gate ...`: the same as `compass gate ...`."""
import sys

from compass.gate.cli import main

sys.exit(main())
