#!/usr/bin/env python3
"""Congestion-control validation: run two flows into one link and a 16:1 incast under each
congestion control, write one CSV row per (case, algorithm) and the validation figures.

    python3 examples/studies/cc-validation.py --sim build/bin/moe-fabric-sim \
        --out out/cc-validation --algorithms none,dcqcn,hpcc

Cases: examples/configs/cc-two-flows.json (GPUs 1 and 2 send to GPU 0 through one switch) and
examples/configs/cc-incast-16to1.json (GPUs 1..16 send to GPU 0); both on 100 Gb/s links with a
shared buffer, ECN (RED) marking and priority 0 lossless. Each algorithm is a
transport.cc.type, optionally with parameters after slashes ("dcqcn/cnp_interval=4us" sets
transport.cc.cnp_interval); any other type the simulator accepts (e.g. a later "swift") works
unchanged. Every run of a case is the same scenario and seed; only transport.cc changes.

Figures (with matplotlib; Debian's python3-matplotlib): cc-two-flows.png (per-QP pacing rate
and the bottleneck queue over time, one column per algorithm) and cc-incast-16to1.png (the
bottleneck queue over time and the PFC pauses, per algorithm). The study is documented in
doc/moe-fabric.rst ("Congestion control", "Validation figures").
"""
import argparse
import csv
import json
import os
import re
import sys

from study_common import (bottleneck_port, parse_rate, parse_time, pyplot, queue_series,
                          read_csv, run_sim)

COLUMNS = [
    "case", "algorithm", "cc_type", "complete", "flows", "completion_s", "utilization",
    "peak_queue_bytes", "max_queue_bytes", "mean_queue_bytes", "window_start_s", "window_end_s",
    "jain_rate", "jain_throughput", "pfc_pauses", "pfc_paused_s", "ecn_marks", "cnps",
    "rate_decreases", "retransmitted_packets", "timeouts", "bottleneck",
]

CASES = [("two-flows", "examples/configs/cc-two-flows.json"),
         ("incast-16to1", "examples/configs/cc-incast-16to1.json")]


def parse_algorithm(spec):
    """"dcqcn/cnp_interval=4us" -> ("dcqcn", ["transport.cc.cnp_interval=4us"])."""
    parts = spec.split("/")
    sets = []
    for p in parts[1:]:
        if "=" not in p:
            sys.exit("--algorithms: %r: expected TYPE or TYPE/key=value/..." % spec)
        sets.append("transport.cc." + p)
    return parts[0], sets


def jain(values):
    s = sum(values)
    q = sum(v * v for v in values)
    return s * s / (len(values) * q) if q > 0 else 1.0


def flow_key(host, dst, cls):
    return (int(host), int(dst), int(cls))


def rate_steps(qp_rows, flows, line_rate):
    """Per flow (src, dst, class): [(t, rate_bps)] from its start, one step per rate change."""
    steps = {k: [(f["start_s"], line_rate)] for k, f in flows.items()}
    for r in qp_rows:
        k = flow_key(r["host"], r["dst"], r["class"])
        if k in steps:
            steps[k].append((float(r["time_s"]), float(r["rate_bps"])))
    return steps


def mean_rate(steps, t0, t1):
    """Time-weighted mean of a step function over [t0, t1]."""
    if t1 <= t0:
        return 0.0
    area = 0.0
    for i, (t, v) in enumerate(steps):
        end = steps[i + 1][0] if i + 1 < len(steps) else t1
        a, b = max(t, t0), min(end, t1)
        if b > a:
            area += v * (b - a)
    return area / (t1 - t0)


def bottleneck_series(rows, interval, end_s):
    """The switch egress port with the most queued bytes over the run, and its queue (all
    priorities) at every sample time from 0 to end_s (absent rows are empty queues)."""
    n = int(round(end_s / interval)) + 1 if interval > 0 else 0
    times = [i * interval for i in range(n)]
    port = bottleneck_port(rows)
    if port is None:
        return None, times, [0] * n
    return port, times, queue_series(rows, port, interval, 0.0, n * interval)


def run(args, case, config, spec):
    cc_type, cc_sets = parse_algorithm(spec)
    label = re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec)
    d = os.path.join(args.out, "%s-%s" % (case, label))
    with open(config) as f:
        scenario = json.load(f)
    extra = []
    flow_bytes = args.two_flow_bytes if case == "two-flows" else args.incast_bytes
    if flow_bytes is not None:
        matrix = [[flow_bytes if v else 0 for v in row] for row in scenario["traffic"]["matrix"]]
        extra.append("traffic.matrix=" + json.dumps(matrix, separators=(",", ":")))
    # Exit code 3 (stopped before every message completed) still reports.
    s, eff = run_sim(args.sim, config, d,
                     ["transport.cc.type=" + cc_type] + cc_sets + extra + args.set, accept=(0, 3))
    line_rate = parse_rate(eff["topology"]["link"]["rate"])
    interval = parse_time(eff["output"]["sample_interval"])

    # The matrix's zero entries are posted too, as zero-byte messages (one header-only packet
    # each); only the real flows count.
    flows = {}
    for m in read_csv(os.path.join(d, "messages.csv")):
        if int(m["bytes"]) == 0:
            continue
        flows[flow_key(m["src"], m["dst"], m["class"])] = {
            "bytes": int(m["bytes"]), "start_s": float(m["start_s"]), "end_s": float(m["end_s"])}
    complete = bool(s["sim"]["complete"])
    rounds = s.get("rounds", [])
    completion = rounds[0].get("completion_s", 0.0) if rounds else 0.0
    end_s = completion if completion > 0 else s["sim"]["sim_time_s"]

    port, times, queue = bottleneck_series(
        read_csv(os.path.join(d, "queue_samples.csv")), interval, end_s)
    # The measurement window: after the start-up transient, while every flow is still active.
    w0 = parse_time(args.settle)
    w1 = min((f["end_s"] for f in flows.values()), default=0.0)
    inside = [q for t, q in zip(times, queue) if w0 <= t <= w1]
    steps = rate_steps(read_csv(os.path.join(d, "qp_rates.csv")), flows, line_rate)
    fab = s["fabric"]
    tr = s["transport"]
    row = {
        "case": case,
        "algorithm": spec,
        "cc_type": cc_type,
        "complete": int(complete),
        "flows": len(flows),
        "completion_s": completion,
        # Payload delivered over the run, against the bottleneck's line rate.
        "utilization": (sum(f["bytes"] for f in flows.values()) * 8 / (completion * line_rate)
                        if completion > 0 else 0.0),
        "peak_queue_bytes": max(queue, default=0),
        "max_queue_bytes": max(t["max_queue_bytes"] for t in fab["tiers"].values()),
        "mean_queue_bytes": sum(inside) / len(inside) if inside else 0.0,
        "window_start_s": round(w0, 12),
        "window_end_s": round(w1, 12),
        "jain_rate": (jain([mean_rate(v, w0, w1) for v in steps.values()])
                      if w1 > w0 and steps else ""),
        "jain_throughput": (jain([f["bytes"] / (f["end_s"] - f["start_s"])
                                  for f in flows.values()]) if flows else ""),
        "pfc_pauses": fab["pfc_pauses"],
        "pfc_paused_s": fab["pfc_paused_s"],
        "ecn_marks": fab["ecn_marks"],
        "cnps": tr.get("cnps_sent", 0),
        "rate_decreases": tr.get("rate_decreases", 0),
        "retransmitted_packets": tr.get("retransmitted_packets", 0),
        "timeouts": tr.get("timeouts", 0),
        "bottleneck": "%s:%d" % port if port else "",
    }
    series = {"times": times, "queue": queue, "steps": steps, "flows": flows,
              "line_rate": line_rate}
    return row, series


def save_small(fig, path):
    """PNG with an adaptive palette when Pillow is there (a few tens of KB instead of ~100)."""
    fig.savefig(path, dpi=90)
    try:
        from PIL import Image
        with Image.open(path) as im:
            small = im.convert("RGB").quantize(colors=128)
        small.save(path, optimize=True)
    except ImportError:
        pass
    print("figure:", path)


def plot(rows, series, figdir):
    plt = pyplot()
    if plt is None:
        return
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]

    two = [r for r in rows if r["case"] == "two-flows"]
    if two:
        fig, axes = plt.subplots(2, len(two), figsize=(3.6 * len(two), 5.2), sharex="col",
                                 squeeze=False)
        for c, r in enumerate(two):
            s = series[("two-flows", r["algorithm"])]
            a1, a2 = axes[0][c], axes[1][c]
            for i, (k, st) in enumerate(sorted(s["steps"].items())):
                end = s["flows"][k]["end_s"]
                t = [p[0] * 1e3 for p in st] + [end * 1e3]
                v = [p[1] / 1e9 for p in st] + [st[-1][1] / 1e9]
                a1.step(t, v, where="post", color=colors[i % len(colors)], lw=1,
                        label="QP %d->%d" % (k[0], k[1]))
            a1.set_ylim(0, s["line_rate"] / 1e9 * 1.08)
            a1.set_title(r["algorithm"], fontsize=10)
            if c == 0:
                a1.set_ylabel("pacing rate (Gb/s)")
                a1.legend(fontsize=7, loc="lower right")
            if r["cc_type"] == "none":
                a1.text(0.5, 0.5, "unpaced: line rate", transform=a1.transAxes, ha="center",
                        fontsize=8)
            a2.plot([t * 1e3 for t in s["times"]], [q / 1e3 for q in s["queue"]], color="k",
                    lw=0.6)
            a2.set_xlabel("time (ms)")
            if c == 0:
                a2.set_ylabel("bottleneck queue (KB)")
            a2.text(0.98, 0.95, "mean %.1f KB, Jain %.3f" % (r["mean_queue_bytes"] / 1e3,
                                                           r["jain_rate"] or 0),
                    transform=a2.transAxes, ha="right", va="top", fontsize=7)
            for a in (a1, a2):
                a.grid(True, alpha=0.3)
                a.tick_params(labelsize=8)
        fig.suptitle("Two flows into one 100 Gb/s link", fontsize=11)
        fig.tight_layout()
        save_small(fig, os.path.join(figdir, "cc-two-flows.png"))
        plt.close(fig)

    inc = [r for r in rows if r["case"] == "incast-16to1"]
    if inc:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.8),
                                     gridspec_kw={"width_ratios": [2.2, 1]})
        for i, r in enumerate(inc):
            s = series[("incast-16to1", r["algorithm"])]
            a1.plot([t * 1e3 for t in s["times"]], [q / 1e6 for q in s["queue"]],
                    color=colors[i % len(colors)], lw=0.9, label=r["algorithm"])
        a1.set_xlabel("time (ms)")
        a1.set_ylabel("bottleneck queue (MB)")
        a1.set_title("16:1 incast, 16 x %.0f MB" % (max(f["bytes"] for f in s["flows"].values())
                                                    / 1e6), fontsize=10)
        a1.legend(fontsize=7)
        y = list(range(len(inc)))[::-1]
        bars = a2.barh(y, [r["pfc_pauses"] for r in inc],
                       color=[colors[i % len(colors)] for i in range(len(inc))])
        for b, r in zip(bars, inc):
            a2.text(b.get_width(), b.get_y() + b.get_height() / 2, " %d" % r["pfc_pauses"],
                    ha="left", va="center", fontsize=8)
        a2.set_yticks(y)
        a2.set_yticklabels([r["algorithm"] for r in inc], fontsize=7)
        a2.set_xlim(0, max([r["pfc_pauses"] for r in inc] + [1]) * 1.25)
        a2.set_xlabel("PFC pauses sent")
        a2.set_title("PFC pauses", fontsize=10)
        for a in (a1, a2):
            a.grid(True, alpha=0.3, axis="x" if a is a2 else "both")
            a.tick_params(labelsize=8)
        fig.tight_layout()
        save_small(fig, os.path.join(figdir, "cc-incast-16to1.png"))
        plt.close(fig)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", default="build/bin/moe-fabric-sim")
    ap.add_argument("--out", default="out/cc-validation")
    ap.add_argument("--figures", default=None, metavar="DIR",
                    help="where the PNGs go (default: --out)")
    ap.add_argument("--algorithms", default="none,dcqcn,hpcc",
                    help="comma-separated transport.cc.type values, each optionally followed "
                         "by /key=value parameters of transport.cc")
    ap.add_argument("--cases", default="two-flows,incast-16to1")
    ap.add_argument("--two-flow-config", default=os.path.join(root, CASES[0][1]))
    ap.add_argument("--incast-config", default=os.path.join(root, CASES[1][1]))
    ap.add_argument("--two-flow-bytes", type=int, default=None,
                    help="payload bytes of each flow of the two-flow case (default: the config's)")
    ap.add_argument("--incast-bytes", type=int, default=None,
                    help="payload bytes of each incast flow (default: the config's)")
    ap.add_argument("--settle", default="200us",
                    help="start of the measurement window (mean queue, rate Jain index)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra scenario override for every run (repeatable)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    configs = {"two-flows": args.two_flow_config, "incast-16to1": args.incast_config}
    rows, series = [], {}
    for case in args.cases.split(","):
        if case not in configs:
            sys.exit("--cases: unknown case %r; accepted: %s" % (case, ", ".join(configs)))
        for spec in args.algorithms.split(","):
            row, ser = run(args, case, configs[case], spec)
            rows.append(row)
            series[(case, spec)] = ser
            print("%-12s %-24s done %.3f ms util %.3f peak %8d B mean %9.1f B jain %s "
                  "pauses %5d cnps %5d" % (case, spec, row["completion_s"] * 1e3,
                                           row["utilization"], row["peak_queue_bytes"],
                                           row["mean_queue_bytes"],
                                           "%.4f" % row["jain_rate"] if row["jain_rate"] != ""
                                           else "-", row["pfc_pauses"], row["cnps"]))
    path = os.path.join(args.out, "cc-validation.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print("table:", path)
    if not args.no_plot:
        figdir = args.figures or args.out
        os.makedirs(figdir, exist_ok=True)
        plot(rows, series, figdir)


if __name__ == "__main__":
    main()
