"""`python -m simulator` is the same as the `npusim` command."""

from simulator.cli.main import main

raise SystemExit(main())
