#!/usr/bin/env python3
"""Turn a moe-fabric run's output directory into PNG figures.

    python3 utils/moe-fabric-plot.py OUT_DIR [--out FIG_DIR] [--max-gpus N]

Reads what the run wrote (summary.json always; layer_phases.csv, messages.csv,
queue_samples.csv, pfc_events.csv when present -- see traces/output-schema.md) and writes, into
FIG_DIR (default OUT_DIR/figures):

  layer-timeline.png    phases of every GPU's layers over time (MoE runs)
  time-cdfs.png         CDFs of dispatch and combine phases (MoE) and of message delivery times
  queues-over-time.png  queued bytes per tier and PFC pauses over time (output.sample_interval,
                        output.pfc_events_csv)
  load-heatmaps.png     tokens per expert and per GPU (MoE runs)
  link-utilization.png  mean utilization per tier

A figure whose inputs the run did not write is skipped with a note. Needs matplotlib (Debian:
python3-matplotlib; run with /usr/bin/python3 if another python3 comes first on PATH).
Prints the figures it wrote; exits 2 if OUT_DIR has no summary.json, 3 without matplotlib.
"""

import argparse
import csv
import json
import math
import os
import sys

PHASES = [
    ("attention_s", "attention", "#4c72b0"),
    ("dispatch_s", "dispatch", "#dd8452"),
    ("expert_queueing_s", "expert queueing", "#c44e52"),
    ("expert_compute_s", "expert compute", "#55a868"),
    ("combine_s", "combine", "#8172b3"),
    ("shared_expert_wait_s", "shared-expert wait", "#937860"),
    ("barrier_wait_s", "barrier wait", "#bbbbbb"),
]


def read_csv(path):
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def cdf(ax, values, label):
    if not values:
        return False
    values = sorted(values)
    n = len(values)
    ax.step(values, [(i + 1) / n for i in range(n)], where="post", label=f"{label} (n={n})")
    return True


def layer_timeline(plt, rows, path, max_gpus):
    gpus = sorted({int(r["gpu"]) for r in rows})[:max_gpus]
    index = {g: i for i, g in enumerate(gpus)}
    fig, ax = plt.subplots(figsize=(12, 0.25 * len(gpus) + 2))
    for r in rows:
        g = int(r["gpu"])
        if g not in index:
            continue
        t = float(r["start_s"]) * 1e3
        for key, _, color in PHASES:
            d = float(r.get(key, 0) or 0) * 1e3
            if d > 0:
                ax.broken_barh([(t, d)], (index[g] - 0.4, 0.8), facecolors=color)
                t += d
    ax.set_yticks(range(len(gpus)))
    ax.set_yticklabels([f"gpu{g}" for g in gpus], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title("Layer timeline: phases of each GPU's layers", pad=22)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for _, _, c in PHASES]
    ax.legend(handles, [n for _, n, _ in PHASES], loc="lower center", ncol=7, fontsize=7,
              bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def time_cdfs(plt, phases, messages, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    if phases:
        for key, name in (("dispatch_s", "dispatch phase"), ("combine_s", "combine phase")):
            drawn |= cdf(ax, [float(r[key]) * 1e6 for r in phases if float(r[key]) > 0], name)
    if messages and "start_s" in messages[0] and "end_s" in messages[0]:
        drawn |= cdf(ax, [(float(r["end_s"]) - float(r["start_s"])) * 1e6 for r in messages
                          if r.get("end_s")], "message delivery")
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xscale("log")
    ax.set_xlabel("time (us, log scale)")
    ax.set_ylabel("fraction")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Distributions of phase and message times")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def queues_over_time(plt, samples, pfc, tier_of, path):
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    drawn = False
    if samples:
        # Per sample instant and tier: total bytes queued (all ports and priorities).
        per_tier = {}
        for r in samples:
            per_tier.setdefault(r["tier"], {})
            t = float(r["time_s"]) * 1e3
            per_tier[r["tier"]][t] = per_tier[r["tier"]].get(t, 0) + int(r["queue_bytes"])
        # Only non-empty queues are listed: rebuild the sampling grid so that empty instants
        # count as zero instead of being interpolated over.
        listed = sorted({float(r["time_s"]) * 1e3 for r in samples})
        steps = [b - a for a, b in zip(listed, listed[1:]) if b - a > 1e-12]
        step = min(steps) if steps else 1.0
        times = [round(listed[0] / step + i) * step for i in
                 range(int(round((listed[-1] - listed[0]) / step)) + 1)] if steps else listed
        per_tier = {tier: {round(t / step) * step: v for t, v in series.items()}
                    for tier, series in per_tier.items()}
        for tier, series in sorted(per_tier.items()):
            axes[0].plot(times, [series.get(t, 0) / 1e6 for t in times], label=tier, lw=1)
        axes[0].set_ylabel("queued (MB)")
        axes[0].legend(fontsize=8)
        axes[0].set_title("Queued bytes per tier (sum over ports and priorities)")
        drawn = True
    else:
        axes[0].text(0.5, 0.5, "no queue_samples.csv (set output.sample_interval)",
                     ha="center", va="center", transform=axes[0].transAxes)
    if pfc:
        sent = [r for r in pfc if r["direction"] == "sent" and int(r["quanta"]) > 0]
        end = max(float(r["time_s"]) for r in pfc) * 1e3
        bins = 50
        width = end / bins if end > 0 else 1
        per_tier = {}
        for r in sent:
            tier = tier_of.get((r["node"], r["port"]), r["node"].rstrip("0123456789"))
            b = min(int(float(r["time_s"]) * 1e3 / width), bins - 1)
            per_tier.setdefault(tier, [0] * bins)[b] += 1
        for tier, counts in sorted(per_tier.items()):
            axes[1].step([i * width for i in range(bins)], counts, where="post", label=tier)
        axes[1].set_ylabel(f"pauses sent per {width * 1e3:.3g} us")
        if per_tier:
            axes[1].legend(fontsize=8)
        axes[1].set_title("PFC pauses over time")
        drawn = True
    else:
        axes[1].text(0.5, 0.5, "no pfc_events.csv (set output.pfc_events_csv)",
                     ha="center", va="center", transform=axes[1].transAxes)
    axes[1].set_xlabel("time (ms)")
    if not drawn:
        plt.close(fig)
        return False
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def load_heatmaps(plt, moe, path):
    experts = moe.get("expert_tokens") or []
    gpu_tokens = moe.get("gpu_tokens") or {}
    if not experts and not gpu_tokens:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    if experts:
        cols = int(math.ceil(math.sqrt(len(experts))))
        rows = int(math.ceil(len(experts) / cols))
        grid = [[float("nan")] * cols for _ in range(rows)]
        for e, v in enumerate(experts):
            grid[e // cols][e % cols] = v
        im = axes[0].imshow(grid, cmap="viridis", aspect="auto")
        fig.colorbar(im, ax=axes[0], label="tokens (picks)")
        axes[0].set_title(f"Tokens per expert ({len(experts)} experts, row-major)")
        axes[0].set_xlabel("expert mod %d" % cols)
        axes[0].set_ylabel("expert // %d" % cols)
    if gpu_tokens:
        gpus = sorted(gpu_tokens, key=int)
        values = [gpu_tokens[g] for g in gpus]
        mean = sum(values) / len(values)
        axes[1].bar(range(len(gpus)), values, color="#4c72b0")
        axes[1].axhline(mean, color="k", lw=1, ls="--", label="mean")
        axes[1].set_xticks(range(len(gpus)))
        axes[1].set_xticklabels(gpus, fontsize=6, rotation=90)
        axes[1].set_xlabel("expert GPU")
        axes[1].set_ylabel("tokens (picks)")
        axes[1].set_title(f"Tokens per GPU (max/mean {max(values) / mean:.2f})")
        axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def link_utilization(plt, fabric, path):
    tiers = fabric.get("tiers") or {}
    if not tiers:
        return False
    names = sorted(tiers)
    util = [tiers[n].get("mean_utilization", 0) for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(names, util, color="#55a868")
    for i, u in enumerate(util):
        ax.text(i, u, f"{u:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("mean utilization (whole run)")
    ax.set_ylim(0, max(1.0, max(util) * 1.1))
    ax.set_title("Link utilization by tier")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="output directory of a moe-fabric-sim run")
    ap.add_argument("--out", help="where to write the PNGs (default RUN/figures)")
    ap.add_argument("--max-gpus", type=int, default=64,
                    help="GPUs shown in the layer timeline (default 64)")
    args = ap.parse_args()

    summary_path = os.path.join(args.run, "summary.json")
    if not os.path.exists(summary_path):
        print(f"moe-fabric-plot: {summary_path} does not exist (not a run's output directory)",
              file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("moe-fabric-plot: matplotlib is missing: apt-get install python3-matplotlib "
              "(and run with /usr/bin/python3)", file=sys.stderr)
        return 3
    with open(summary_path) as f:
        summary = json.load(f)
    out = args.out or os.path.join(args.run, "figures")
    os.makedirs(out, exist_ok=True)

    phases = read_csv(os.path.join(args.run, "layer_phases.csv"))
    messages = read_csv(os.path.join(args.run, "messages.csv"))
    samples = read_csv(os.path.join(args.run, "queue_samples.csv"))
    pfc = read_csv(os.path.join(args.run, "pfc_events.csv"))
    tier_of = {(r["node"], r["port"]): r["tier"] for r in samples or []}

    written = []

    def done(name, ok, why):
        if ok:
            written.append(os.path.join(out, name))
        else:
            print(f"moe-fabric-plot: skipped {name}: {why}", file=sys.stderr)

    if phases:
        layer_timeline(plt, phases, os.path.join(out, "layer-timeline.png"), args.max_gpus)
        written.append(os.path.join(out, "layer-timeline.png"))
    else:
        done("layer-timeline.png", False, "no layer_phases.csv (MoE runs only)")
    done("time-cdfs.png", time_cdfs(plt, phases, messages, os.path.join(out, "time-cdfs.png")),
         "no layer_phases.csv or messages.csv")
    done("queues-over-time.png",
         queues_over_time(plt, samples, pfc, tier_of, os.path.join(out, "queues-over-time.png")),
         "no queue_samples.csv or pfc_events.csv")
    done("load-heatmaps.png",
         load_heatmaps(plt, summary.get("moe") or {}, os.path.join(out, "load-heatmaps.png")),
         "no moe section in summary.json")
    done("link-utilization.png",
         link_utilization(plt, summary.get("fabric") or {}, os.path.join(out, "link-utilization.png")),
         "no fabric tiers in summary.json")
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
