#!/usr/bin/env python3
"""Buffer-sizing sweep: run an MoE scenario over switch buffer sizes and dynamic-threshold alphas
and write one CSV row per setting (drops, ECN marks, PFC pauses, peak buffer use, p99 layer and
dispatch times), plus a figure when matplotlib is available.

    python3 examples/studies/buffer-sizing-sweep.py --sim build/bin/moe-fabric-sim \
        --config examples/configs/moe-buffer-sizing.json --out out/buffer-sweep \
        --sizes 2MiB,4MiB,8MiB,16MiB,32MiB --alphas 0.25,1,4

Every run is the same workload and seed; only switch.buffer.size and switch.buffer.alpha change.
The study is documented in doc/moe-fabric.rst ("Buffer sizing").
"""
import argparse
import csv
import json
import os
import subprocess
import sys

COLUMNS = [
    "buffer_bytes", "alpha", "headroom_bytes", "complete", "drops", "drops_egress_threshold", "drops_pool_full",
    "ecn_marks", "pfc_pauses", "pfc_paused_s", "pfc_max_port_paused_s", "peak_used_bytes",
    "peak_lossy_pool_bytes", "peak_lossless_pool_bytes", "peak_headroom_bytes",
    "p99_layer_s", "max_layer_s", "p99_dispatch_s", "p99_dispatch_message_s", "iterations",
    "iterations_total_s", "retransmitted_packets", "timeouts", "error",
]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_bytes(text):
    units = {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "kb": 1000, "mb": 10**6, "b": 1}
    t = text.strip().lower()
    for u, f in units.items():
        if t.endswith(u):
            return int(float(t[: -len(u)]) * f)
    return int(t)


def percentile(values, p):
    """Nearest-rank percentile, as summary.json computes its own."""
    v = sorted(values)
    if not v:
        return 0.0
    rank = max(1, -(-len(v) * p // 100))
    return v[min(int(rank), len(v)) - 1]


def number(x):
    """A float for the CSV without binary noise (0.023498560487, not 0.023498560486999998)."""
    return float("%.12g" % x)


def run(sim, config, out, size, alpha, headroom, extra):
    """One setting's CSV row. A setting the simulator refuses (e.g. reserves and headroom larger
    than a small buffer with PFC) gives a row with its message in "error", not an aborted sweep."""
    d = os.path.join(out, "size-%d-alpha-%g-headroom-%d" % (size, alpha, headroom))
    cmd = [sim, "--config=" + config, "--out=" + d, "--quiet",
           "--set=switch.buffer.type=shared",
           "--set=switch.buffer.size=%d" % size,
           "--set=switch.buffer.alpha=%r" % alpha,
           "--set=switch.buffer.headroom=%d" % headroom] + ["--set=" + e for e in extra]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    row = {"buffer_bytes": size, "alpha": alpha, "headroom_bytes": headroom, "error": ""}
    if r.returncode not in (0, 3):  # 3: incomplete run, still reported
        message = (r.stderr.strip() or r.stdout.strip()).splitlines()
        row["error"] = message[-1] if message else "exit %d" % r.returncode
        return row
    with open(os.path.join(d, "summary.json")) as f:
        s = json.load(f)
    fab = s["fabric"]
    tiers = fab["tiers"].values()
    layers = [l for l in s["moe"]["layers"] if l.get("complete")]
    iterations = [i["completion_s"] for i in s["moe"]["iterations"] if "completion_s" in i]
    to_experts = s["moe"].get("message_time", {}).get("to_experts", {})
    row.update({
        "complete": int(s["sim"]["complete"]),
        "drops": fab["drops"],
        "drops_egress_threshold": sum(t["drops_by_reason"]["egress_threshold"] for t in tiers),
        "drops_pool_full": sum(t["drops_by_reason"]["pool_full"] for t in tiers),
        "ecn_marks": fab["ecn_marks"],
        "pfc_pauses": sum(t.get("pfc_pauses", 0) for t in tiers),
        "pfc_paused_s": number(sum(t.get("pfc_paused_s", 0.0) for t in tiers)),
        "pfc_max_port_paused_s": number(fab.get("pfc_max_port_paused_s", 0.0)),
        "peak_used_bytes": fab["buffer"].get("peak_used_bytes", 0),
        "peak_lossy_pool_bytes": fab["buffer"].get("peak_lossy_pool_bytes", 0),
        "peak_lossless_pool_bytes": fab["buffer"].get("peak_lossless_pool_bytes", 0),
        "peak_headroom_bytes": fab["buffer"].get("peak_headroom_bytes", 0),
        "p99_layer_s": number(percentile([l["completion_s"] for l in layers], 99)),
        "max_layer_s": number(max((l["completion_s"] for l in layers), default=0.0)),
        "p99_dispatch_s": number(max((l["phases"]["dispatch"]["p99_s"] for l in layers),
                                     default=0.0)),
        "p99_dispatch_message_s": number(to_experts.get("p99_s", 0.0)),
        "iterations": len(iterations),
        "iterations_total_s": number(sum(iterations)),
        "retransmitted_packets": s["transport"].get("retransmitted_packets", 0),
        "timeouts": s["transport"].get("timeouts", 0),
    })
    return row


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figure (apt-get install python3-matplotlib)")
        return
    series = sorted({(r["alpha"], r["headroom_bytes"]) for r in rows})
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for alpha, headroom in series:
        rs = sorted((r for r in rows if (r["alpha"], r["headroom_bytes"]) == (alpha, headroom)),
                    key=lambda r: r["buffer_bytes"])
        label = "alpha %g" % alpha + ("" if headroom == 0 else ", headroom %d B" % headroom)
        x = [r["buffer_bytes"] / 2**20 for r in rs]
        a1.plot(x, [r["drops"] + r["pfc_pauses"] for r in rs], marker="o",
                label=label)
        a2.plot(x, [r["p99_layer_s"] * 1e3 for r in rs], marker="o", label=label)
    for a, title, ylabel in ((a1, "Frames dropped + PFC pauses", "events"),
                             (a2, "p99 MoE layer time", "ms")):
        a.set_xscale("log", base=2)
        a.set_xlabel("switch buffer (MiB)")
        a.set_ylabel(ylabel)
        a.set_title(title)
        a.grid(True, alpha=0.3)
        a.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("figure:", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", default=os.path.join(REPO, "build", "bin", "moe-fabric-sim"))
    ap.add_argument("--config", default=os.path.join(REPO, "examples", "configs",
                                                     "moe-buffer-sizing.json"))
    ap.add_argument("--out", default="out/buffer-sweep")
    ap.add_argument("--sizes", default="2MiB,4MiB,8MiB,16MiB,32MiB")
    ap.add_argument("--alphas", default="0.25,1,4")
    ap.add_argument("--headrooms", default="0",
                    help="per (port, lossless priority), bytes; 0 = sized from each link")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra scenario override for every run (repeatable), e.g. "
                         "switch.buffer.lossless_priorities=[0]")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for size in [parse_bytes(s) for s in args.sizes.split(",")]:
        for alpha in [float(a) for a in args.alphas.split(",")]:
            for headroom in [parse_bytes(h) for h in args.headrooms.split(",")]:
                rows.append(run(args.sim, args.config, args.out, size, alpha, headroom, args.set))
                r = rows[-1]
                if r["error"]:
                    print("size %9d alpha %-5g headroom %7d refused: %s"
                          % (size, alpha, headroom, r["error"]))
                    continue
                print("size %9d alpha %-5g headroom %7d drops %7d pauses %6d peak %9d "
                      "p99 layer %.6f s" % (size, alpha, headroom, r["drops"], r["pfc_pauses"],
                                            r["peak_used_bytes"], r["p99_layer_s"]))
    path = os.path.join(args.out, "buffer-sweep.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print("table:", path)
    ran = [r for r in rows if not r["error"]]
    if not ran:
        sys.exit("no setting could run (see the error column of %s)" % path)
    if not args.no_plot:
        plot(ran, os.path.join(args.out, "buffer-sweep.png"))


if __name__ == "__main__":
    main()
