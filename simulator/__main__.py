"""`python -m simulator` is the same as the `npusim` command."""

from .cli import main

raise SystemExit(main())
