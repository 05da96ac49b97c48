#!/usr/bin/env python3
"""What a packet-hop costs as the fabric grows: instructions, events and simulated cache misses
per packet-hop for the benchmark's cases (utils/benchmark.py), from callgrind.

Wall seconds per packet-hop mix two things: the work the simulator does per hop and the time
the CPU waits for memory. This script separates them. Each case runs twice under
``valgrind --tool=callgrind --cache-sim=yes``, stopped at two simulated times
(``simulation.stop_time``), counting inside ``Simulator::Run()`` only; runs are deterministic,
so the difference of the two runs' counts and packet-hops is the window between the two times,
without setup (building the fabric, posting every message at time 0) or output and teardown.
The last-level cache is simulated at ``--ll-bytes`` (default 8 MiB, 16-way: about what the
two-core virtual machine of the project's benchmarks has -- a dependent-load chase there takes
20 ns over 6 MiB and 150 ns over 8 MiB).

Examples::

    utils/cache-profile.py                       # k4, k8, k16; about 10 minutes on 2 cores
    utils/cache-profile.py --cases k16p8 --window k16p8=20us,40us
    utils/cache-profile.py --ll-bytes 33554432   # a 32 MiB last-level cache
    utils/cache-profile.py --memory-latency      # this machine's load latency by working set

Needs valgrind (``apt-get install valgrind``; ``--memory-latency`` needs g++ instead). Standard
library only.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark  # noqa: E402  (same directory)

# Windows (simulated times) per case: late enough that queues have built up, short enough for
# valgrind (~50-100x slower than a native run; k16's setup alone takes about a minute).
DEFAULT_WINDOWS = {
    "k4": ("20us", "400us"),
    "k8": ("20us", "50us"),
    "k16": ("20us", "50us"),
    "k16x8": ("20us", "50us"),
    "k16p8": ("20us", "50us"),
}
COLUMNS = (
    ("case", 6, "s"),
    ("hops", 9, "d"),
    ("events/hop", 10, ".2f"),
    ("Ir/hop", 7, ".0f"),
    ("D1 miss/hop", 11, ".1f"),
    ("LL miss/hop", 11, ".2f"),
    ("LL rd", 6, ".2f"),
    ("LL wr", 6, ".2f"),
    ("events/sim-us", 13, ".0f"),
)


class ProfileError(Exception):
    """A run failed; the message says why."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--build",
        default=str(benchmark.REPO / "build"),
        help="build directory holding bin/%s (default: %%(default)s)" % benchmark.MOE_BINARY,
    )
    parser.add_argument(
        "--cases",
        default="k4,k8,k16",
        help="comma-separated cases of utils/benchmark.py (default: %(default)s; known: "
        + ", ".join(benchmark.CASES)
        + ")",
    )
    parser.add_argument(
        "--window",
        dest="windows",
        action="append",
        default=[],
        metavar="CASE=T1,T2",
        help="simulated times bounding a case's window, e.g. k16=20us,50us (repeatable)",
    )
    parser.add_argument(
        "--ll-bytes",
        type=int,
        default=8 << 20,
        help="simulated last-level cache size in bytes, 16-way, 64-byte lines "
        "(default: %(default)s)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel valgrind runs (default: 2)")
    parser.add_argument(
        "--memory-latency",
        action="store_true",
        help="instead of profiling, measure this machine's latency of dependent loads over "
        "working sets of 1 MiB to 512 MiB (compiles a small C++ program with g++): where it "
        "jumps is the cache size to simulate",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results to FILE")
    args = parser.parse_args(argv)
    args.case_names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.case_names if c not in benchmark.CASES]
    if unknown or not args.case_names:
        parser.error(
            f"--cases: unknown case(s) {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(benchmark.CASES)}"
        )
    args.window_of = dict(DEFAULT_WINDOWS)
    for item in args.windows:
        name, _, value = item.partition("=")
        times = value.split(",")
        if name not in benchmark.CASES or len(times) != 2 or not all(times):
            parser.error(f"--window {item!r}: expected CASE=T1,T2, e.g. k16=20us,50us")
        args.window_of[name] = tuple(times)
    size = args.ll_bytes
    if size < 64 * 16 or size & (size - 1):
        parser.error(f"--ll-bytes {size}: expected a power of two of at least 1024")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


EVENTS = ("Ir", "D1mr", "D1mw", "DLmr", "DLmw")


def collected(outfile):
    """Event name -> total count, from a callgrind output file."""
    names, totals = None, None
    with open(outfile, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith("totals:") or (totals is None and line.startswith("summary:")):
                totals = [int(x) for x in line.split()[1:]]
    if names is None or totals is None or len(totals) > len(names):
        raise ProfileError(f"{outfile}: no event totals (did callgrind finish?)")
    missing = [e for e in EVENTS if e not in names]
    if missing:
        raise ProfileError(f"{outfile}: no {', '.join(missing)} counts (cache simulation off?)")
    # callgrind leaves out trailing zero counts
    return dict(zip(names, totals + [0] * (len(names) - len(totals))))


RUNNING = []  # valgrind processes, terminated if another run fails


def run_once(binary, config, stop, ll_bytes, tmp):
    """Counts and sim figures of one run stopped at simulated time @p stop."""
    out = Path(tmp) / f"out-{stop}"
    cg = Path(tmp) / f"callgrind-{stop}.out"
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--cache-sim=yes",
        f"--LL={ll_bytes},16,64",
        # Count inside the event loop only (the caches are simulated throughout): building the
        # fabric, writing outputs and teardown, which depend on the state at the stop time,
        # stay out; what the first events of time 0 do (posting) cancels in the difference.
        "--collect-atstart=no",
        "--toggle-collect=ns3::Simulator::Run()",
        f"--callgrind-out-file={cg}",
        str(binary),
        f"--config={config}",
        f"--set=simulation.stop_time={stop}",
        f"--out={out}",
    ]
    env = dict(os.environ, MOE_FABRIC_HUGE_PAGES="0")
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    RUNNING.append(proc)
    _, stderr = proc.communicate()
    summary_path = out / "summary.json"
    # Exit status 3 is a run that stopped before the traffic finished: expected here when
    # simulation.stop_time stopped it (not when it stalled).
    if proc.returncode not in (0, 3) or not summary_path.is_file():
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        raise ProfileError(f"{' '.join(argv)} failed (exit {proc.returncode}):\n{tail}")
    try:
        sim = json.loads(summary_path.read_text(encoding="utf-8"))["sim"]
        fields = {k: sim[k] for k in ("packet_hops", "events", "sim_time_s", "stop_reason")}
    except (ValueError, KeyError, TypeError) as exc:
        raise ProfileError(f"{summary_path}: unreadable sim section ({exc})") from exc
    if fields["stop_reason"] not in ("stop_time", "complete"):
        raise ProfileError(f"run to {stop} stopped early: {fields['stop_reason']}")
    return collected(cg), fields


def profile_case(binary, name, args):
    t1, t2 = args.window_of[name]
    with tempfile.TemporaryDirectory(prefix=f"moe-cache-{name}-") as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(benchmark.moe_config(benchmark.CASES[name], "moe-heap")))
        first = run_once(binary, config, t1, args.ll_bytes, tmp)
        second = run_once(binary, config, t2, args.ll_bytes, tmp)
    (c1, s1), (c2, s2) = first, second
    if s2["sim_time_s"] <= s1["sim_time_s"]:
        raise ProfileError(
            f"{name}: empty window {t1} -> {t2}: the runs ended at {s1['sim_time_s'] * 1e6:.1f} "
            f"and {s2['sim_time_s'] * 1e6:.1f} us of simulated time (the second time must be "
            "later than the first, and the first before the traffic completes)"
        )
    hops = s2["packet_hops"] - s1["packet_hops"]
    if hops <= 0:
        raise ProfileError(f"{name}: no packet-hops between {t1} and {t2}; widen the window")

    def per_hop(*events):
        return sum(c2[e] - c1[e] for e in events) / hops

    return {
        "case": name,
        "window": [t1, t2],
        "hops": hops,
        "events/hop": (s2["events"] - s1["events"]) / hops,
        "Ir/hop": per_hop("Ir"),
        "D1 miss/hop": per_hop("D1mr", "D1mw"),
        "LL miss/hop": per_hop("DLmr", "DLmw"),
        "LL rd": per_hop("DLmr"),
        "LL wr": per_hop("DLmw"),
        # How densely the fabric is simulated: the state touched per simulated microsecond
        # (events x the lines each touches) against the cache decides what is still cached
        # when a frame's next hop comes.
        "events/sim-us": (s2["events"] - s1["events"]) / ((s2["sim_time_s"] - s1["sim_time_s"]) * 1e6),
    }


# A pointer chase over a random cyclic permutation of 64-byte lines: every load depends on the
# previous one, so the time per load is the latency of wherever the working set lives.
CHASE_SOURCE = r"""
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <sys/mman.h>
#include <vector>
struct Line { Line* next; char pad[56]; };
int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const size_t mib = std::strtoull(argv[i], nullptr, 10), n = (mib << 20) / sizeof(Line);
        Line* a = static_cast<Line*>(std::aligned_alloc(1 << 21, n * sizeof(Line)));
        if (a == nullptr) return 1;
        madvise(a, n * sizeof(Line), MADV_HUGEPAGE);
        std::vector<size_t> order(n);
        std::iota(order.begin(), order.end(), size_t{0});
        std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
        for (size_t k = 0; k < n; ++k) a[order[k]].next = &a[order[(k + 1) % n]];
        Line* p = &a[order[0]];
        const size_t loads = 20000000;
        const auto t0 = std::chrono::steady_clock::now();
        for (size_t k = 0; k < loads; ++k) p = p->next;
        const double ns = std::chrono::duration<double, std::nano>(
                              std::chrono::steady_clock::now() - t0).count() / loads;
        std::printf("%6zu MiB  %6.1f ns per load%s\n", mib, ns, p == nullptr ? " " : "");
        std::free(a);
    }
    return 0;
}
"""


def memory_latency():
    if shutil.which("g++") is None:
        print("cache-profile: error: g++ not found (apt-get install g++)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="moe-chase-") as tmp:
        source = Path(tmp) / "chase.cc"
        source.write_text(CHASE_SOURCE, encoding="utf-8")
        program = Path(tmp) / "chase"
        build = subprocess.run(["g++", "-O2", "-o", str(program), str(source)],
                               capture_output=True, text=True)
        if build.returncode != 0:
            print(f"cache-profile: error: compiling the probe failed:\n{build.stderr}",
                  file=sys.stderr)
            return 1
        print("latency of dependent loads (2 MB pages where the kernel grants them):")
        sizes = ["1", "2", "4", "6", "8", "16", "32", "64", "128", "512"]
        return subprocess.run([str(program)] + sizes).returncode


def main(argv):
    args = parse_args(argv)
    if args.memory_latency:
        return memory_latency()
    if shutil.which("valgrind") is None:
        print("cache-profile: error: valgrind not found; install it (apt-get install valgrind)",
              file=sys.stderr)
        return 2
    binary = Path(args.build) / "bin" / benchmark.MOE_BINARY
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"cache-profile: error: {binary} not found (build first, or pass --build)",
              file=sys.stderr)
        return 2
    print(f"callgrind, last-level cache {args.ll_bytes >> 10} KiB; per packet-hop over each "
          "case's window:", flush=True)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
    futures = [pool.submit(profile_case, binary, n, args) for n in args.case_names]
    try:
        rows = [f.result() for f in futures]
    except ProfileError as exc:
        print(f"cache-profile: error: {exc}", file=sys.stderr, flush=True)
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in RUNNING:
            if proc.poll() is None:
                proc.terminate()
        return 1
    pool.shutdown()
    print("  ".join(f"{title:>{width}}" for title, width, _ in COLUMNS) + "  window")
    for row in rows:
        cells = [f"{row[title]:>{width}{spec}}" for title, width, spec in COLUMNS]
        print("  ".join(cells) + "  " + " -> ".join(row["window"]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
