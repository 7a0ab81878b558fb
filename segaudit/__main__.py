"""`python -m segaudit` is the `segaudit` command."""

import sys

from segaudit.app.cli.main import main

sys.exit(main())
