#!/usr/bin/env python3
"""DCQCN against its published fluid model: the bottleneck queue at the fixed point, N flows.

    python3 examples/studies/dcqcn-fluid-model.py --sim build/bin/moe-fabric-sim \
        --out out/dcqcn-fluid-model --flows 2,4,8,10

Zhu et al., "ECN or Delay: Lessons Learnt from Analysis of DCQCN and TIMELY" (CoNEXT 2016),
section 3, prove that DCQCN with N flows on one bottleneck of capacity C has a unique fixed
point: every flow at C/N, and a marking probability p* that solves

    a^2 * alpha / ((b + d) * (c + e)) = tau^2 * R_AI * C/N,

with, in packets and seconds (Rc = C/N),

    a     = 1 - (1-p)^(tau Rc)            a CNP interval holds at least one mark
    alpha = 1 - (1-p)^(tau' Rc)           alpha at the fixed point
    b     = p / ((1-p)^(-B) - 1)          byte-counter increase events
    c     = (1-p)^(F B) b                 ... past fast recovery
    d     = p / ((1-p)^(-T Rc) - 1)       timer increase events
    e     = (1-p)^(F T Rc) d              ... past fast recovery

where tau is the CNP interval, tau' the alpha update interval, T the rate-increase timer,
B the byte counter, F the fast-recovery steps and R_AI the additive increase. The queue then
sits where RED marks with p*: q* = Kmin + p*/pmax (Kmax - Kmin). The paper also gives the
Taylor approximation p* ~ (R_AI N^2 / (tau' C^2) (1/B + N/(T C))^2)^(1/3). The fixed point is
computed here from those equations (bisection on p); the parameter values are the DCQCN paper's
defaults, which are moe-fabric's (doc/moe-fabric.rst, "DCQCN").

The simulated case (examples/configs/cc-dcqcn-fluid-model.json): N senders and one receiver on
one switch, 40 Gb/s links, 1000-byte payloads, RED 5 KB / 200 KB / 1 %, DCQCN with the paper's
parameters (hyper increase off, as in the model: rate_hai = rate_ai; one decrease per CNP
interval); about 800 MB in total so that every flow runs ~175 ms, long enough for alpha (time
constant tau'/g = 14 ms) to settle. Measured: the time-averaged queue of the bottleneck port
over the window (default 100-150 ms), against q*. Writes dcqcn-fluid-model.csv and, with
matplotlib, dcqcn-fluid-model.png. Documented in doc/moe-fabric.rst ("Comparison with the
DCQCN fluid model").
"""
import argparse
import json
import math
import os
import sys

from study_common import (bottleneck_port, parse_rate, parse_time, pyplot, queue_series,
                          read_csv, run_sim, write_csv)

# Bytes a data frame adds to its payload on the wire: Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 +
# ICRC 4 + FCS 4 + preamble/SFD 8 + inter-frame gap 12 = 82 (doc/moe-fabric.rst, "Frames").
FRAME_OVERHEAD_BYTES = 82


def fixed_point(n, link_bps, wire_bytes, rai_bps, byte_counter, timer_s, cnp_s, alpha_s, steps,
                kmin, kmax, pmax):
    """(p*, q* bytes, Taylor p*, Taylor q* bytes) of the CoNEXT 2016 fluid model."""
    c = link_bps / (8.0 * wire_bytes)  # packets/s
    rai = rai_bps / (8.0 * wire_bytes)
    b_pkts = byte_counter / float(wire_bytes)
    rc = c / n

    def events(p, x):
        """p / ((1-p)^-x - 1): the rate of 'x packets without a mark' events per packet."""
        exponent = -math.log1p(-p) * x
        return p / math.expm1(exponent) if exponent < 700 else 0.0

    def residual(p):
        log1mp = math.log1p(-p)
        a = -math.expm1(log1mp * cnp_s * rc)
        alpha = -math.expm1(log1mp * alpha_s * rc)
        b = events(p, b_pkts)
        d = events(p, timer_s * rc)
        cc = math.exp(log1mp * steps * b_pkts) * b
        e = math.exp(log1mp * steps * timer_s * rc) * d
        target = cnp_s * cnp_s * rai * rc
        if (b + d) * (cc + e) == 0:
            return math.inf  # increases vanish: far above the fixed point
        return a * a * alpha / ((b + d) * (cc + e)) - target

    lo, hi = 1e-12, 0.5
    if residual(lo) * residual(hi) > 0:
        raise ValueError("no fixed point in (0, 0.5) for N=%d" % n)
    for _ in range(200):  # bisection in log space: p spans decades
        mid = math.sqrt(lo * hi)
        if residual(lo) * residual(mid) <= 0:
            hi = mid
        else:
            lo = mid
    p = math.sqrt(lo * hi)
    taylor = (rai * n * n / (alpha_s * c * c) * (1.0 / b_pkts + n / (timer_s * c)) ** 2) ** (1 / 3)

    def queue(prob):
        return kmin + prob / pmax * (kmax - kmin)

    return p, queue(p), taylor, queue(taylor)


def run_case(args, n):
    d = os.path.join(args.out, "n%d" % n)
    per_flow = int(args.total_bytes // n)
    matrix = [[0] * (n + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        matrix[i][0] = per_flow
    sets = ["topology.hosts_per_leaf=%d" % (n + 1), "traffic.gpus=%d" % (n + 1),
            "traffic.matrix=" + json.dumps(matrix, separators=(",", ":"))] + args.set
    summary, eff = run_sim(args.sim, args.config, d, sets, accept=(0, 3))
    interval = parse_time(eff["output"]["sample_interval"])
    # The bottleneck: the switch port towards the receiver, i.e. the port with the most queued
    # bytes over the run.
    samples = read_csv(os.path.join(d, "queue_samples.csv"))
    w0, w1 = args.window
    series = queue_series(samples, bottleneck_port(samples), interval, w0, w1)
    flows = [m for m in read_csv(os.path.join(d, "messages.csv")) if int(m["bytes"]) > 0]
    first_end = min(float(m["end_s"]) for m in flows)
    if first_end < w1:
        sys.exit("N=%d: a flow ended at %.1f ms, inside the window: raise --total-bytes"
                 % (n, first_end * 1e3))
    ordered = sorted(series)
    return eff, summary, {
        "mean": sum(series) / len(series),
        "p10": ordered[len(ordered) // 10],
        "p90": ordered[(9 * len(ordered)) // 10],
        # Mean rate of the flows over their lifetime, against the fair share.
        "rate_bps": sum(int(m["bytes"]) * 8 / (float(m["end_s"]) - float(m["start_s"]))
                        for m in flows) / len(flows),
        "pauses": summary["fabric"]["pfc_pauses"],
    }


def plot(rows, path):
    plt = pyplot()
    if plt is None:
        return
    ns = [r["flows"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [r["model_queue_bytes"] / 1e3 for r in rows], "k-o", label="fluid model q* (exact)")
    ax.plot(ns, [r["model_taylor_queue_bytes"] / 1e3 for r in rows], "k--",
            label="fluid model q* (Taylor)")
    mean = [r["sim_mean_queue_bytes"] / 1e3 for r in rows]
    low = [m - r["sim_p10_queue_bytes"] / 1e3 for m, r in zip(mean, rows)]
    high = [r["sim_p90_queue_bytes"] / 1e3 - m for m, r in zip(mean, rows)]
    ax.errorbar(ns, mean, yerr=[low, high], fmt="s", color="tab:blue", capsize=4,
                label="moe-fabric: mean (bars p10-p90)")
    ax.set_xlabel("flows N into one 40 Gb/s port")
    ax.set_ylabel("bottleneck queue (KB)")
    ax.set_title("DCQCN fixed point: packet-level vs fluid model (CoNEXT 2016)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print("figure:", path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", default=os.path.join(here, "..", "..", "build", "bin",
                                                  "moe-fabric-sim"))
    ap.add_argument("--config", default=os.path.join(here, "..", "configs",
                                                     "cc-dcqcn-fluid-model.json"))
    ap.add_argument("--out", default="out/dcqcn-fluid-model")
    ap.add_argument("--flows", default="2,4,8,10", help="comma-separated N (default 2,4,8,10)")
    ap.add_argument("--total-bytes", type=float, default=8e8,
                    help="bytes of all flows together (default 8e8: ~175 ms at 40 Gb/s)")
    ap.add_argument("--window", default="100ms:150ms", help="averaging window (default "
                    "100ms:150ms)")
    ap.add_argument("--set", action="append", default=[], help="extra --set for every run")
    ap.add_argument("--no-plot", action="store_true", help="write the CSV only")
    args = ap.parse_args()
    try:
        args.window = tuple(parse_time(t) for t in args.window.split(":"))
        flows = [int(x) for x in args.flows.split(",")]
    except ValueError as exc:
        sys.exit("bad argument: %s" % exc)
    if len(args.window) != 2 or args.window[1] <= args.window[0] or min(flows) < 1:
        sys.exit("bad argument: --window wants START:END with END > START, --flows N >= 1")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    print("%3s  %12s  %12s  %14s  %16s  %6s  %13s  %6s" % (
        "N", "model q* KB", "Taylor q* KB", "simulated KB", "p10 / p90 KB", "ratio",
        "rate / (C/N)", "pauses"))
    for n in flows:
        eff, summary, sim = run_case(args, n)
        cc = eff["transport"]["cc"]
        ecn = eff["switch"]["ecn"]
        link = parse_rate(eff["topology"]["link"]["rate"])
        wire = int(eff["transport"]["mtu"]) + FRAME_OVERHEAD_BYTES
        p, q, pt, qt = fixed_point(
            n, link, wire, parse_rate(cc["rate_ai"]), float(cc["byte_counter"]),
            parse_time(cc["rate_increase_interval"]), parse_time(cc["cnp_interval"]),
            parse_time(cc["alpha_interval"]), int(cc["fast_recovery_steps"]),
            float(ecn["kmin"]), float(ecn["kmax"]), float(ecn["pmax"]))
        fair = link * (int(eff["transport"]["mtu"]) / wire) / n
        row = {
            "flows": n, "model_p": p, "model_queue_bytes": q, "model_taylor_p": pt,
            "model_taylor_queue_bytes": qt, "sim_mean_queue_bytes": sim["mean"],
            "sim_p10_queue_bytes": sim["p10"], "sim_p90_queue_bytes": sim["p90"],
            "sim_over_model": sim["mean"] / q, "sim_flow_rate_bps": sim["rate_bps"],
            "fair_share_payload_bps": fair, "pfc_pauses": sim["pauses"],
            "window_start_s": args.window[0], "window_end_s": args.window[1],
        }
        rows.append(row)
        note = "" if p <= float(ecn["pmax"]) else "  (p* > pmax: outside the model's RED range)"
        print("%3d  %12.1f  %12.1f  %14.1f  %7.1f / %6.1f  %6.2f  %13.3f  %6d%s" % (
            n, q / 1e3, qt / 1e3, sim["mean"] / 1e3, sim["p10"] / 1e3, sim["p90"] / 1e3,
            sim["mean"] / q, sim["rate_bps"] / fair, sim["pauses"], note))
    write_csv(os.path.join(args.out, "dcqcn-fluid-model.csv"), rows)
    if not args.no_plot:
        plot(rows, os.path.join(args.out, "dcqcn-fluid-model.png"))


if __name__ == "__main__":
    main()
