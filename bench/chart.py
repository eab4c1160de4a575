"""Latency against load, per contender, from a benchmark run (bench/run.ts calls it).

    /usr/bin/python3 bench/chart.py bench/results/latest.json bench/results/latency.png

Left: p50 (solid) and p99 (dashed) latency at the fixed rates (open loop: latency from the scheduled
send). Right: p50 latency against the throughput each contender reached at 1, 16 and 64 connections
(closed loop), the points labelled with their connection count. Log scales. Needs matplotlib
(Debian's python3-matplotlib, installed by bench/peers/install.sh).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

ORDER = ["direct", "floor", "chaperone", "checks", "candidate", "mitmproxy", "agentreserve"]
LABEL = {
    "direct": "direct (no proxy)",
    "floor": "floor (minimal Node proxy)",
    "chaperone": "chaperone, pass-through",
    "checks": "chaperone, every check on",
    "candidate": "candidate build",
    "mitmproxy": "mitmproxy + JSON addon",
    "agentreserve": "@agentreserve/proxy",
}
COLOR = {
    "direct": "#555555",
    "floor": "#1f77b4",
    "chaperone": "#2ca02c",
    "checks": "#006400",
    "candidate": "#17becf",
    "mitmproxy": "#d62728",
    "agentreserve": "#ff7f0e",
}
MARKER = {"direct": "o", "floor": "s", "chaperone": "^", "checks": "v", "candidate": "D", "mitmproxy": "X", "agentreserve": "P"}
# Only the 1 KB OpenAI call: the same work at every load.
RATE_IDS = ["http-rate-500", "http-rate"]
CONC_IDS = ["http-c1", "http-saturation", "http-c64"]


def ms(us):
    return None if us is None else us / 1000.0


def main(src, dst):
    with open(src, encoding="utf-8") as f:
        report = json.load(f)
    scenarios = {s["scenario"]["id"]: s for s in report["scenarios"]}
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6.2), dpi=110)
    fmt = FuncFormatter(lambda v, _: f"{v:g}")

    # Left: fixed rates.
    rates = [scenarios[i] for i in RATE_IDS if i in scenarios]
    for who in ORDER:
        pts = [(s["scenario"]["load"]["rate"], s["results"][who]) for s in rates if who in s["results"]]
        if not pts:
            continue
        xs = [x for x, _ in pts]
        left.plot(xs, [ms(m["p50Us"]) for _, m in pts], color=COLOR[who], marker=MARKER[who], lw=2, ms=7, label=LABEL[who])
        left.plot(xs, [ms(m["p99Us"]) for _, m in pts], color=COLOR[who], marker=MARKER[who], lw=1.2, ms=5, ls="--", alpha=0.75)
    if not rates:
        left.text(0.5, 0.5, "no fixed-rate scenario in this run", ha="center", va="center", transform=left.transAxes, color="#888888")
    left.set_title("Fixed rate (open loop): p50 solid, p99 dashed")
    left.set_xlabel("offered load, requests/s")
    left.set_ylabel("latency, ms (log)")
    left.set_yscale("log")
    if rates:
        left.set_xticks([s["scenario"]["load"]["rate"] for s in rates])
        left.set_xlim(min(s["scenario"]["load"]["rate"] for s in rates) * 0.8, max(s["scenario"]["load"]["rate"] for s in rates) * 1.1)
    left.yaxis.set_major_formatter(fmt)
    left.grid(True, which="both", alpha=0.3)

    # Right: closed loop, latency against the throughput reached.
    concs = [scenarios[i] for i in CONC_IDS if i in scenarios]
    for who in ORDER:
        pts = [(s["scenario"]["load"]["concurrency"], s["results"][who]) for s in concs if who in s["results"]]
        pts = [(c, m) for c, m in pts if m.get("rps") and m.get("p50Us")]
        if not pts:
            continue
        xs = [m["rps"] for _, m in pts]
        ys = [ms(m["p50Us"]) for _, m in pts]
        right.plot(xs, ys, color=COLOR[who], marker=MARKER[who], lw=2, ms=7, label=LABEL[who])
        for (c, _), x, y in zip(pts, xs, ys):
            right.annotate(str(c), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8, color=COLOR[who])
    if not concs:
        right.text(0.5, 0.5, "no closed-loop scenario in this run", ha="center", va="center", transform=right.transAxes, color="#888888")
    right.set_title("Closed loop at 1, 16, 64 connections: p50 against throughput")
    right.set_xlabel("throughput reached, requests/s (log)")
    right.set_ylabel("p50 latency, ms (log)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.xaxis.set_major_formatter(fmt)
    right.yaxis.set_major_formatter(fmt)
    right.grid(True, which="both", alpha=0.3)

    handles, labels = [], []
    for ax in (left, right):
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False, fontsize=10)
    m = report.get("machine", {})
    fig.suptitle(
        f"Chaperone benchmark, 1 KB chat completion, plain HTTP, loopback: latency against load\n"
        f"{report.get('date', '')[:16]} · profile {report.get('profile')} · {m.get('nproc')} CPUs · node {m.get('node')} · commit {m.get('commit')}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    fig.savefig(dst)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py LATEST_JSON OUT_PNG")
    main(sys.argv[1], sys.argv[2])
