"""``python -m humanrecon.cli``: the same as the ``humanrecon`` console script."""

import sys

from humanrecon.cli import main

sys.exit(main())
