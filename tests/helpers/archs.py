"""Arch fixtures shared by several test modules."""

from __future__ import annotations

from simulator.kinds.registry import arch_from_dict

INF = float("inf")


def ideal_arch(cores: int = 1, **core) -> object:
    """One core, unbounded bridge / bank / DRAM bandwidth and zero latencies."""
    return arch_from_dict({
        "name": "ideal", "kind": "tensorcore", "clock_mhz": 1000, "cores": cores,
        "core": {"mac_rows": 32, "mac_cols": 32, **core},
        "bridge": {"bytes_per_cycle_per_port": INF, "hop_latency_cycles": 0},
        "sram": {"bytes_per_cycle_per_bank": INF},
        "dram": {"bandwidth_gbps": INF, "latency_ns": 0}})
