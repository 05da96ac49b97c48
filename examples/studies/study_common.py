"""Helpers shared by the study scripts in examples/studies (Python 3 standard library only)."""
import csv
import json
import os
import re
import subprocess
import sys


def parse_time(text):
    """Seconds from a time string of the scenario grammar ("1us", "500ns", "0ps")."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ps|ns|us|µs|μs|ms|s)?\s*", text)
    if not m:
        raise ValueError("not a time: %r" % text)
    scale = {"ps": 1e-12, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0}
    return float(m.group(1)) * scale[m.group(2) or "s"]


def parse_rate(text):
    """Bit/s from a rate string ("100Gbps", "400Gb/s")."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKMGT]?)b(ps|/s)\s*", text)
    if not m:
        raise ValueError("not a rate: %r" % text)
    return float(m.group(1)) * {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9,
                                "T": 1e12}[m.group(2)]


def read_csv(path):
    """Rows of a CSV file as dicts; [] if the run did not write it."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows):
    """Write dict rows (columns from the first) with LF line ends, and say where."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print("csv:", path)


def run_sim(sim, config, out, sets, accept=(0,)):
    """Run moe-fabric-sim on @config with --set @sets into @out; exit with its stderr unless
    its exit code is in @accept (3: stopped before every message completed). Returns
    (summary, effective config)."""
    cmd = [sim, "--config=" + config, "--out=" + out, "--quiet"] + ["--set=" + s for s in sets]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode not in accept:
        sys.exit("moe-fabric-sim failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "effective_config.json")) as f:
        effective = json.load(f)
    return summary, effective


def bottleneck_port(samples):
    """The switch egress port (node, port) with the most queued bytes over queue_samples.csv's
    rows, or None if no switch port ever queued."""
    totals = {}
    for r in samples:
        if r["node"].startswith("gpu"):
            continue
        key = (r["node"], int(r["port"]))
        totals[key] = totals.get(key, 0) + int(r["queue_bytes"])
    return max(totals, key=lambda k: (totals[k], k)) if totals else None


def queue_series(samples, port, interval, t0, t1):
    """Queued bytes (all priorities) of @port at every sample time in [t0, t1) (absent samples
    are empty queues)."""
    n = int(round((t1 - t0) / interval)) if interval > 0 else 0
    series = [0] * n
    for r in samples:
        if (r["node"], int(r["port"])) == port:
            i = int(round((float(r["time_s"]) - t0) / interval))
            if 0 <= i < n:
                series[i] += int(r["queue_bytes"])
    return series


def pyplot():
    """matplotlib.pyplot with the Agg backend, or None (with a hint) if it is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print("matplotlib not installed: no figures (apt-get install python3-matplotlib, and run "
              "with /usr/bin/python3 if python3 is another interpreter)")
        return None
