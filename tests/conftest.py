"""Shared test configuration. The tests mirror the package: tests/core, tests/kinds/<kind>,
tests/io, tests/dse, tests/report, tests/cli; helpers shared by several modules live in
tests/helpers (never import one test module from another)."""

import os

from hypothesis import settings

# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (README, "Quick start"): `ci`
# (default) keeps hypothesis's own example counts with no deadline (CI machines are shared);
# `thorough` runs ten times as many examples everywhere, and 25 times as many fuzz examples
# (tests/helpers/fuzz.py), for local runs.
settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
