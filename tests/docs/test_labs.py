"""docs/labs.md: the commands of the labs listed in TESTED parse, name files that exist, and
run; the figures the labs quote for them are what the tool prints.

Each lab's commands are read from its ```bash block, so a command edited in the lab is the
command tested. Lab 10's two `compare` commands are parsed but not run here (12 whole-network
simulations, about 5 s): their figures are the runs of
tests/kinds/tensorcore/test_tensorcore_study.py. Explain commands run with --no-what-if (the
what-ifs re-simulate the workload five times; tests/cli covers them).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from simulator.cli.main import build_parser, main

CHECKOUT = Path(__file__).resolve().parents[2]
LABS = CHECKOUT / "docs" / "labs.md"
#: the labs whose commands this module checks (others may be added with their figures)
TESTED = (9, 10)
#: commands that are parsed but not run (module docstring)
NOT_RUN = {
    "npusim compare bpu bpu_no_hswish -w resnet50 mobilenet_v2 mobilenet_v3_large",
    "npusim compare bpu bpu_no_hswish -w resnet50 mobilenet_v2 mobilenet_v3_large "
    "--precision fp16",
}
#: figures a lab quotes for a command, as the tool prints them (a command the lab no longer
#: has fails test_quoted_commands_are_in_the_labs, so this table cannot go stale silently)
QUOTED = {
    "npusim run edge_32x32 docs/labs/staircase.yaml": ["63.7 k", "126 k"],
    "npusim explain edge_32x32 docs/labs/staircase.yaml --layer f40": [
        "126,387 cycles", "ceil(3,136 / 32) * ceil(40 / 32)", "196 * (576 + 62)"],
    "npusim run bpu docs/labs/staircase.yaml": ["1,870,824 cycles"],
    "npusim explain bpu docs/labs/staircase.yaml --layer f64": [
        "56,944 cycles", "3,136 * 18 * 1", "split by output channels"],
    "npusim explain bpu docs/labs/staircase.yaml --layer f72": [
        "85,529 cycles", "1,568 * 18 * 3", "split by output pixels"],
    "npusim explain bpu docs/labs/staircase.yaml --layer f72 --objective energy": [
        "85,924 cycles", "224 pixels x 72 channels", "335,360"],
    "npusim explain bpu docs/labs/staircase.yaml --layer f136 --objective energy": [
        "170,616 cycles", "3,136 * 18 * 3"],
    "npusim run bpu docs/labs/staircase.yaml --objective energy": ["1,992,825 cycles"],
    "npusim explain bpu_no_hswish mobilenet_v3_large --layer b12_expand": [
        "29,195 cycles", "8,134 + 40 + 441 + 20,580", "98 * 4 * 21"],
    "npusim explain bpu_no_hswish mobilenet_v3_large --layer b12_expand --precision fp16": [
        "289,349 cycles", "246,960 + 32 + 1,197 + 41,160"],
    "npusim explain bpu mobilenet_v3_large --layer b2_dw": ["10,037 cycles", "98 * 1 * 9"],
    "npusim explain bpu mobilenet_v3_large --layer b2_dw --precision fp16": ["28,523 cycles"],
    "npusim explain bpu resnet50 --layer l4b0_c2 --precision fp16": ["1,704,906 cycles"],
    "npusim run bpu resnet50 --precision fp16 --set mac_rates.fp16=0.0833333": [
        "24,649,779 cycles"],
}


def lab_section(number: int) -> str:
    text = LABS.read_text()
    start = re.search(rf"^## Lab {number}\. .*$", text, re.M)
    assert start, f"docs/labs.md has no lab {number}"
    end = re.search(r"^## ", text[start.end():], re.M)
    return text[start.start(): start.end() + end.start() if end else len(text)]


def lab_commands(number: int) -> list[str]:
    """The npusim commands of a lab's ```bash blocks (comments dropped, `\\` lines joined)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", lab_section(number), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "npusim":
                commands.append(" ".join(shlex.quote(w) for w in words))
    assert commands, f"lab {number} has no npusim command"
    return commands


ALL = [(n, c) for n in TESTED for c in lab_commands(n)]


@pytest.mark.parametrize("number, command", ALL)
def test_lab_command_parses_and_names_files_that_exist(number, command):
    args = shlex.split(command)[1:]
    parsed = build_parser(args[0]).parse_args(args)
    assert getattr(parsed, "func", None), command
    for word in args:
        if word.endswith((".yaml", ".yml")):
            assert (CHECKOUT / word).is_file(), f"lab {number}: {word} does not exist"


def test_quoted_commands_are_in_the_labs():
    commands = {c for _, c in ALL}
    assert set(QUOTED) <= commands, set(QUOTED) - commands
    assert NOT_RUN <= commands, NOT_RUN - commands


@pytest.mark.parametrize("number, command", [(n, c) for n, c in ALL if c not in NOT_RUN])
def test_lab_command_runs_and_prints_the_figures_the_lab_quotes(number, command, capsys,
                                                                monkeypatch):
    monkeypatch.chdir(CHECKOUT)
    # a wide terminal, so that no figure is wrapped across table lines
    monkeypatch.setenv("COLUMNS", "250")
    args = shlex.split(command)[1:]
    if args[0] == "explain":
        args.append("--no-what-if")
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    lab = lab_section(number)
    for figure in QUOTED.get(command, []):
        assert figure in out, f"{command}: {figure!r} not printed"
        # the figure the test checks is the one the lab quotes
        number_part = re.search(r"[\d,]{3,}", figure)
        if number_part:
            assert number_part.group(0) in lab, f"lab {number} does not quote {figure!r}"
