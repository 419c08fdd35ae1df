#!/usr/bin/env python3
"""Summarises a Repl.Bench --timeline CSV: when the late deliveries came, and who had the cores then.

  bench/timeline.py FILE [--all]

Prints the phases, then one row per 100 ms slot of the measured window that had late deliveries (every slot with
--all): deliveries and late ones, the latest (ms), acknowledgements and the slowest, the server's threads (CPU and
run-queue wait in ms, by thread name: the streams' thread, the log's, the thread pool, GC, the JIT's tier-up), the load
program's (its epoll receiver, the rest), and the streams' counters from /metrics as they moved.
"""
import csv
import sys


def main():
    path = sys.argv[1]
    show_all = "--all" in sys.argv
    marks, rows = [], []
    with open(path) as f:
        lines = [line for line in f]
    for line in lines:
        if line.startswith("# ") and " s: " in line:
            at, mark = line[2:].strip().split(" s: ")
            marks.append((float(at), mark))
    reader = csv.DictReader(line for line in lines if not line.startswith("#"))
    rows = list(reader)
    print("phases: " + ", ".join(f"{mark} {at:.1f} s" for at, mark in marks))
    start = next((at for at, mark in marks if mark == "measured"), 0.0)
    end = next((at for at, mark in marks if mark == "end"), float("inf"))

    def group(row, who, names):
        cpu = wait = 0
        for column, value in row.items():
            if not column.startswith(who + ":"):
                continue
            name, kind = column[len(who) + 1:].rsplit(" ", 1)
            if names is None or any(name.startswith(n) for n in names):
                if kind == "cpu":
                    cpu += int(value)
                else:
                    wait += int(value)
        return cpu / 1000, wait / 1000

    server_groups = [("sse", ["repl.sse"]), ("log", ["repl.log"]), ("pool", [".NET TP"]), ("gc", [".NET Server GC", ".NET BGC", ".NET GC"]),
                     ("tier", [".NET Tiered"]), ("all", None)]
    bench_groups = [("epoll", ["bench-epoll"]), ("all", None)]
    metrics = [c for c in rows[0].keys() if c.startswith("metric:")] if rows else []
    last = {m: None for m in metrics}
    header = "    t  deliv   late  maxMs  acks ackMax | " + " ".join(f"{n:>9}" for n, _ in server_groups) + " | " + \
        " ".join(f"{n:>9}" for n, _ in bench_groups) + " | " + " ".join(m.split(":")[1].replace("repl_", "").replace("_total", "") for m in metrics)
    print("server and bench columns: CPU/run-queue wait, ms per 100 ms slot; metrics: change since the last sample")
    print(header)
    late_total = 0
    for row in rows:
        t = float(row["t"])
        moved = []
        for m in metrics:
            value = int(row[m])
            if value == 0 and not any(int(row[n]) for n in metrics):
                moved.append("-")  # not sampled in this slot
                continue
            moved.append("" if last[m] is None else str(value - last[m]))
            last[m] = value
        if t < start or t > end:
            continue
        late = int(row["late"])
        late_total += late
        if not show_all and late == 0:
            continue
        cells = [f"{t:5.1f} {int(row['deliveries']):6d} {late:6d} {float(row['maxMs']):6.0f} {int(row['acks']):5d} {float(row['ackMaxMs']):6.0f} |"]
        cells += [f"{c:4.0f}/{w:<4.0f}" for c, w in (group(row, "server", names) for _, names in server_groups)] + ["|"]
        cells += [f"{c:4.0f}/{w:<4.0f}" for c, w in (group(row, "bench", names) for _, names in bench_groups)] + ["|"]
        cells += moved
        print(" ".join(cells))
    print(f"late deliveries in the measured window: {late_total}")


if __name__ == "__main__":
    main()
