#!/usr/bin/env python3
"""Admission isolation of a bulk tenant from a latency-sensitive one: the two-tenant study.

    /usr/bin/python3 examples/studies/two-tenant-admission.py --sim build/bin/moe-fabric-sim \
        --out out/two-tenants

Runs examples/configs/moe-serving-two-tenants*.json -- a latency-sensitive ``chat`` tenant and a
long-context ``bulk`` prefill tenant sharing one leaf-spine fabric -- once per admission policy,
on the same seed and arrivals, and once more per policy on the ideal transport (same
scheduler, no packets) to separate what the fabric costs from what the GPUs cost:

    none      no admission, both tenants share every expert-parallel group and step
    static    bulk prefill capped at 64 tokens per GPU and step
    pinned    each tenant on its own group, one fabric priority (no admission otherwise)
    priority  pinned groups, chat's traffic on priority 3 over bulk's on 0 (strict)
    feedback  bulk prefill held back while the fabric's queueing delay is high

Writes two-tenant-admission.csv (one row per policy: per-class TTFT/TPOT percentiles from
summary.json's serving section, SLO attainment, and the fabric tax on chat's p99 TPOT against
the ideal twin) and, with matplotlib, two-tenant-admission.png (CDFs of chat's TPOT and of bulk's
TTFT per policy). Documented in doc/moe-fabric.rst ("Admission", "Studies of MoE failure
patterns").
"""
import argparse
import json
import os
import sys

from study_common import pyplot, read_csv, run_sim, write_csv

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "configs")

PINNED = json.dumps({"type": "none", "classes": [{"name": "chat", "groups": [0]},
                                                 {"name": "bulk", "groups": [1]}]},
                    separators=(",", ":"))

POLICIES = {
    "none": ("moe-serving-two-tenants.json", []),
    "static": ("moe-serving-two-tenants-static.json", []),
    "pinned": ("moe-serving-two-tenants-priority.json",
               ["workload.serving.admission=" + PINNED]),
    "priority": ("moe-serving-two-tenants-priority.json", []),
    "feedback": ("moe-serving-two-tenants-feedback.json", []),
}


def run(args, name, transport):
    config, sets = POLICIES[name]
    d = os.path.join(args.out, "%s-%s" % (name, transport))
    sets = sets + ["seed=%d" % args.seed] + (["transport.type=ideal"] if transport == "ideal"
                                              else [])
    summary, _ = run_sim(args.sim, os.path.join(CONFIGS, config), d, sets)
    requests = read_csv(os.path.join(d, "requests.csv"))
    return summary, requests


def per_class(summary, name):
    for c in summary["serving"]["classes"]:
        if c["name"] == name:
            return c
    sys.exit("class %r missing from summary.json" % name)


def plot(curves, path):
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for policy, (chat_tpot, bulk_ttft) in curves.items():
        for ax, values in ((axes[0], chat_tpot), (axes[1], bulk_ttft)):
            xs = sorted(values)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=policy)
    axes[0].set_xlabel("chat time per output token (us)")
    axes[1].set_xlabel("bulk time to first token (ms)")
    for ax in axes:
        ax.set_ylabel("fraction of requests")
        ax.grid(alpha=0.3)
    axes[0].axvline(250, color="grey", linestyle=":", linewidth=1)
    axes[0].text(255, 0.05, "SLO", color="grey", fontsize=8)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title("latency-sensitive tenant")
    axes[1].set_title("bulk long-context tenant")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print("figure:", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", default=os.path.join(HERE, "..", "..", "build", "bin",
                                                  "moe-fabric-sim"))
    ap.add_argument("--out", default="out/two-tenant-admission")
    ap.add_argument("--policies", default=",".join(POLICIES),
                    help="comma-separated, of: " + ", ".join(POLICIES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-plot", action="store_true", help="write the CSV only")
    args = ap.parse_args()
    policies = args.policies.split(",")
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        sys.exit("unknown policy %s; accepted: %s" % (", ".join(unknown), ", ".join(POLICIES)))
    os.makedirs(args.out, exist_ok=True)
    rows, curves = [], {}
    print("%-9s %18s %18s %18s %14s %9s %22s" % (
        "policy", "chat TTFT p50/p99", "chat TPOT p50/p99", "bulk TTFT p50/p99", "bulk e2e p99",
        "chat SLO", "fabric tax (chat p99)"))
    for name in policies:
        summary, requests = run(args, name, "rdma")
        ideal, _ = run(args, name, "ideal")
        chat, bulk = per_class(summary, "chat"), per_class(summary, "bulk")
        ideal_tpot = per_class(ideal, "chat")["tpot"]["p99_s"]
        row = {
            "policy": name,
            "chat_ttft_p50_s": chat["ttft"]["p50_s"], "chat_ttft_p99_s": chat["ttft"]["p99_s"],
            "chat_tpot_p50_s": chat["tpot"]["p50_s"], "chat_tpot_p99_s": chat["tpot"]["p99_s"],
            "chat_slo_met": chat["slo_met"], "chat_requests": chat["requests"],
            "bulk_ttft_p50_s": bulk["ttft"]["p50_s"], "bulk_ttft_p99_s": bulk["ttft"]["p99_s"],
            "bulk_e2e_p99_s": bulk["e2e"]["p99_s"],
            "completed": summary["serving"]["completed"],
            "requests": summary["serving"]["requests"],
            "ideal_chat_tpot_p99_s": ideal_tpot,
            "fabric_tax_chat_tpot_p99": chat["tpot"]["p99_s"] / ideal_tpot - 1,
        }
        rows.append(row)
        curves[name] = ([float(r["tpot_s"]) * 1e6 for r in requests if r["class"] == "chat"],
                        [float(r["ttft_s"]) * 1e3 for r in requests if r["class"] == "bulk"])
        print("%-9s %8.2f/%5.2f ms %8.0f/%5.0f us %8.2f/%5.2f ms %11.1f ms %4d/%-4d %+8.0f%% (ideal %.0f us)"
              % (name, row["chat_ttft_p50_s"] * 1e3, row["chat_ttft_p99_s"] * 1e3,
                 row["chat_tpot_p50_s"] * 1e6, row["chat_tpot_p99_s"] * 1e6,
                 row["bulk_ttft_p50_s"] * 1e3, row["bulk_ttft_p99_s"] * 1e3,
                 row["bulk_e2e_p99_s"] * 1e3, row["chat_slo_met"], row["chat_requests"],
                 row["fabric_tax_chat_tpot_p99"] * 100, ideal_tpot * 1e6))
    write_csv(os.path.join(args.out, "two-tenant-admission.csv"), rows)
    if not args.no_plot:
        plot(curves, os.path.join(args.out, "two-tenant-admission.png"))


if __name__ == "__main__":
    main()
