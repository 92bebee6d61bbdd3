"""`npusim llm ARCH MODEL`: LLM inference on a chip, a prompt's prefill then token-by-token
decode: time to first token, time per output token, tokens/s, energy per token, KV cache."""

from __future__ import annotations

import argparse

from simulator.cli.common import PRECISIONS, write_text

FORMATS = ("table", "json", "md")


def _tokens(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of tokens, got {text!r}")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "llm", help="LLM inference: prefill, decode, time per token, KV cache",
        description="Simulate a decoder-only LLM on ARCH: the prefill of a --prompt-token "
        "prompt for --batch sequences, then --generate tokens one decode step at a time. MODEL "
        "is a bundled config (`npusim list`: gpt2_small, llama3_2_1b, llama2_7b) or a YAML "
        "file with kind: llm (docs/llm.md).")
    parser.add_argument("arch", help="arch name or file (YAML or SCALE-Sim .cfg)")
    parser.add_argument("model", help="LLM config: bundled name or YAML file")
    parser.add_argument("--prompt", type=_tokens, default=512, metavar="TOKENS",
                        help="prompt length (default 512)")
    parser.add_argument("--generate", type=_tokens, default=128, metavar="TOKENS",
                        help="tokens to generate per sequence (default 128)")
    parser.add_argument("--batch", type=_tokens, default=1, metavar="SEQUENCES",
                        help="sequences decoded together (default 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override an arch field, e.g. --set dram.bandwidth_gbps=180")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default=None,
                        help="weight/activation precision (default: the model's, else the arch's)")
    parser.add_argument("--kv-bits", type=int, choices=(4, 8, 16, 32), default=None,
                        help="KV-cache element width (default: the model's, else the "
                        "activation width)")
    parser.add_argument("--exact", action="store_true",
                        help="simulate every decode step instead of interpolating")
    parser.add_argument("--tolerance", type=float, default=None, metavar="FRACTION",
                        help="bound on the relative error of the interpolated decode totals "
                        "(default 0.005)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default: a table in the terminal)")
    parser.add_argument("-o", "--output", default=None, help="write the output to this file")
    parser.add_argument("--ascii", action="store_true",
                        help="also draw a text roofline with the prefill and decode points")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.cli.common import parse_precision, start_up

    with start_up():
        from simulator.io.llm import load_llm
        from simulator.io.load import load_arch
        from simulator.llm.generation import DEFAULT_TOLERANCE, simulate_generation
        from simulator.report import llm as report
        from simulator.report.progress import progress, progress_enabled

        arch = load_arch(args.arch, args.overrides)
        model = load_llm(args.model)
    changes = {}
    precision = parse_precision(args.precision)
    if precision is not None:
        changes["precision"] = precision
    if args.kv_bits is not None:
        changes["kv_cache_bits"] = args.kv_bits
    if changes:
        model = model.model_copy(update=changes)
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    with progress(f"simulating {model.name} on {arch.name}", enabled=progress_enabled(args.quiet)):
        result = simulate_generation(arch, model, prompt=args.prompt, generate=args.generate,
                                     batch=args.batch, tolerance=tolerance, exact=args.exact,
                                     source=args.model)
    if args.quiet and args.output is None:
        return 0
    if args.format == "table":
        if args.output:
            write_text(report.to_markdown(result), args.output)
        else:
            report.print_llm(result)
            if args.ascii:
                print(report.ascii_roofline(result))
    else:
        write_text(report.render(result, args.format), args.output)
    return 0
