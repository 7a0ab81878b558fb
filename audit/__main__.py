"""`python -m audit` is the `segaudit` command."""

import sys

from audit.cli.main import main

sys.exit(main())
