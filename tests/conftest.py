"""Shared test configuration. The tests mirror the package: tests/core, tests/kinds/<kind>,
tests/io, tests/dse, tests/report, tests/cli; helpers shared by several modules live in
tests/helpers (never import one test module from another)."""
