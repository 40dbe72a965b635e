"""``python -m services`` is the ``almanac`` command."""

import sys

from services.cli import main

sys.exit(main())
