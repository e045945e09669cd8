"""`python -m acdgate.console`: the same as the `acdgate` console script."""

import sys

from acdgate.console import main

sys.exit(main())
