#!/usr/bin/env python3
"""What adding a processor costs the daemon: the share of the nop pipeline's spans/s per core.

Rates on this machine drift by several percent from one minute to the next (and by more
between sittings), which is as large as the costs measured. So the pipelines are measured in
rounds, each against a nop pipeline measured minutes or seconds apart:

  - every round starts one daemon per pipeline (nop and each configuration), all pinned to the
    daemon core, each on its own ports; fresh processes every round, so that no pipeline keeps
    one process's luck of memory placement;
  - the load generator (pinned to the other core) runs at the maximum rate against each
    daemon in turn, the order rotating from round to round;
  - a pipeline's share in a round is 1 - its rate / nop's rate in that round; the median over
    the rounds is reported, with every round's value.

  bench/processor_cost.py 'probabilistic=probabilistic_sampler: {sampling_percentage: 10}' ...

Each argument is LABEL=ENTRIES, ENTRIES being YAML flow-mapping entries of processors (as
BENCH_PROCESSORS in bench/run.sh), put in the traces pipeline in order: OTLP/gRPC -> the
processors -> nop. LABEL@BINARY=ENTRIES runs that pipeline on another otlpd binary (a build
before a change, say; ENTRIES may then be empty, for its nop). Build Release first
(bench/run.sh does, or ninja -C build otlpd otlpd-loadgen).
"""

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10


def processor_ids(entries):
    """The top-level keys of YAML flow-mapping entries ("a: {x: 1}, b/2: {}" -> [a, b/2])."""
    ids, depth, quote, key = [], 0, "", ""
    for c in entries:
        if quote:
            if c == quote:
                quote = ""
            continue
        if c in "\"'":
            quote = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        elif depth == 0 and c == ":" and key.strip(" ,"):
            ids.append(key.strip(" ,"))
            key = ""
        elif depth == 0 and c == ",":
            key = ""
        elif depth == 0:
            key += c
    return ids


def free_ports(n):
    """n free loopback ports below the ephemeral range, which the load generator's own
    connections (and the kernel's port 0) take from: one of those could be given out again
    between the check here and the daemon's bind."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    ports = []
    while len(ports) < n:
        port = rng.randrange(10000, max(low, 10001))
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
    return ports


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Daemon:
    def __init__(self, otlpd, cpu, work, label, entries):
        self.label = label
        grpc_port, http_port, metrics_port = free_ports(3)
        self.grpc_port = grpc_port
        ids = ", ".join(processor_ids(entries))
        config = os.path.join(work, f"{label}.yaml")
        with open(config, "w") as f:
            f.write(
                f"processors: {{{entries}}}\n"
                "receivers:\n  otlp:\n    protocols:\n"
                f"      grpc: {{endpoint: 127.0.0.1:{grpc_port}}}\n"
                f"      http: {{endpoint: 127.0.0.1:{http_port}}}\n"
                "exporters:\n  nop: {}\n"
                "service:\n"
                f"  telemetry: {{logs: {{level: warn}}, metrics: {{address: 127.0.0.1:{metrics_port}}}}}\n"
                "  pipelines:\n"
                f"    traces: {{receivers: [otlp], processors: [{ids}], exporters: [nop]}}\n")
        self.log_path = os.path.join(work, f"{label}.log")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), otlpd, "--config", config],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT)

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(self.grpc_port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"otlpd ({self.label}) did not start:\n" + open(self.log_path).read()[-3000:])
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def max_rate(args, port):
    cmd = ["taskset", "-c", str(args.loadgen_cpu), args.loadgen,
           "--duration", str(args.duration), "--warmup", str(args.warmup), "--rate", "0",
           "--concurrency", str(args.concurrency), "--transport", "grpc",
           "--endpoint", f"127.0.0.1:{port}"]
    run = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=args.duration + args.warmup + 60)
    m = re.search(r"^RESULT .* spans_per_sec=(\d+) .*errors=(\d+)", run.stdout, re.M)
    if run.returncode != 0 or m is None:
        sys.exit(f"otlpd-loadgen failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    if int(m.group(2)) != 0:
        sys.exit(f"otlpd-loadgen saw errors:\n{run.stdout}")
    return int(m.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("configs", nargs="+", help="LABEL=PROCESSOR ENTRIES")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=5, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured seconds per run")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--daemon-cpu", type=int, default=0)
    p.add_argument("--loadgen-cpu", type=int, default=1)
    p.add_argument("--otlpd", default=os.path.join(ROOT, "build", "otlpd"))
    p.add_argument("--loadgen", default=os.path.join(ROOT, "build", "otlpd-loadgen"))
    args = p.parse_args()
    configs = [("nop", args.otlpd, "")]
    for c in args.configs:
        name, sep, entries = c.partition("=")
        label, at, binary = name.partition("@")
        if not at:
            binary = args.otlpd
        if (not sep or not label or label in [l for l, _, _ in configs] or
                (not at and not processor_ids(entries))):
            sys.exit(f"not LABEL[@BINARY]=PROCESSOR ENTRIES with a new LABEL (not nop): {c}")
        configs.append((label, binary, entries))
    for binary in [args.loadgen] + [b for _, b, _ in configs]:
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} is not built")

    rates = {label: [] for label, _, _ in configs}
    with tempfile.TemporaryDirectory(prefix="otlpd-cost.") as work:
        for r in range(args.rounds):
            daemons = [Daemon(binary, args.daemon_cpu, work, label, entries)
                       for label, binary, entries in configs]
            try:
                for d in daemons:
                    d.wait_ready()
                shift = r % len(daemons)
                for d in daemons[shift:] + daemons[:shift]:
                    rates[d.label].append(max_rate(args, d.grpc_port))
            finally:
                for d in daemons:
                    d.stop()
            print(f"round {r + 1}/{args.rounds}: " +
                  ", ".join(f"{label} {rates[label][-1]:,}" for label, _, _ in configs),
                  file=sys.stderr, flush=True)

    nop = rates["nop"]
    print(f"OTLP/gRPC -> processors -> nop, daemon on core {args.daemon_cpu}, load generator on "
          f"core {args.loadgen_cpu}, {args.rounds} rounds of {args.duration:g} s runs, "
          f"concurrency {args.concurrency}\n")
    print("| pipeline | spans/s per core (median) | share of nop's rate (median) | per round |")
    print("|---|---:|---:|---|")
    print(f"| nop | {statistics.median(nop):,.0f} | – | |")
    for label, _, _ in configs[1:]:
        shares = [1 - x / n for x, n in zip(rates[label], nop)]
        print(f"| {label} | {statistics.median(rates[label]):,.0f} | "
              f"{statistics.median(shares) * 100:.1f} % | "
              f"{' / '.join(f'{s * 100:.1f}' for s in shares)} |")


if __name__ == "__main__":
    main()
