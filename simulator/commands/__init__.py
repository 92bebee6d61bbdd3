"""One module per `npusim` subcommand; each defines `register(subparsers)`."""
