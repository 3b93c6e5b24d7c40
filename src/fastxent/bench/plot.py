"""The plot: throughput per case and implementation against the machine's
floor (matplotlib, imported only here and only when a plot is asked for)."""
from __future__ import annotations

from typing import Any, Dict

from .cases import IMPL_ORDER


def plot_report(report: Dict[str, Any], path: str) -> None:
    """Throughput per case and implementation, log scale, one panel per thread count."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = report["settings"]["threads"]
    cases = list(dict.fromkeys(r["case"] for r in report["results"]))
    xs = {c: i for i, c in enumerate(cases)}
    # one panel per thread count, stacked so the case labels are written once
    size = (max(7.0, 0.5 * len(cases) + 3), 1.5 + 3.5 * len(threads))
    fig, axes = plt.subplots(len(threads), 1, figsize=size, sharex=True, sharey=True, squeeze=False)
    markers = dict(zip(IMPL_ORDER, "osD^v"))
    for ax, T in zip(axes[:, 0], threads):
        rows = [r for r in report["results"] if r["threads"] == T and "median_s" in r]
        for impl in IMPL_ORDER:
            pts = sorted((xs[r["case"]], r["gelem_per_s"]) for r in rows if r["impl"] == impl)
            if pts:
                ax.plot(*zip(*pts), marker=markers[impl], linestyle="none", label=impl)
        floor = sorted((xs[r["case"]], r["elements"] / r["floor_s"] / 1e9)
                       for r in rows if r["impl"] == "fastxent")
        if floor:
            ax.plot(*zip(*floor), color="black", marker="_", markersize=22, linestyle="none",
                    label="machine floor")
        ax.set_yscale("log")
        ax.set_title(f"{T} thread{'s' if T > 1 else ''}")
        ax.set_ylabel("Gelem/s (N*C / time)")
        ax.grid(True, which="both", axis="y", alpha=0.3)
    axes[-1, 0].set_xticks(range(len(cases)))
    axes[-1, 0].set_xticklabels(cases, rotation=60, ha="right", fontsize=8)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    m = report["machine"]
    fig.suptitle(f"fastxent {report['fastxent_version']} on {m['cpu']} "
                 f"({m['usable_cpus']} CPUs, ISA {m['fastxent_config']['isa']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
