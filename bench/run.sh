#!/usr/bin/env bash
# End-to-end benchmark of otlpd with the standard workload (shared/README.md §3): the
# daemon pinned to one core, otlpd-loadgen on another.
#
# For each mode (default: gRPC, then HTTP protobuf) it measures the maximum accepted rate
# (BENCH_REPS runs, median reported), then the latency at 50 % of that rate, and prints a
# markdown table ready for the README.
#
#   bench/run.sh                       # defaults: 20 s runs, 3 repetitions
#   BENCH_DURATION=5 BENCH_REPS=1 bench/run.sh
#   PERF=1 bench/run.sh                # also profile the daemon under gRPC load
#
# Environment:
#   BENCH_DURATION     measured seconds per run (20)
#   BENCH_WARMUP       warm-up seconds per run, not measured (3)
#   BENCH_REPS         repetitions per measurement, median reported (3)
#   BENCH_CONCURRENCY  in-flight requests / HTTP connections (32)
#   BENCH_MODES        space-separated list of ("grpc http"):
#                        grpc, http, http-json   receiver otlp -> exporter nop
#                        fwd-otlp, fwd-otlp-gzip otlp receiver -> otlp exporter (compression
#                                                none / gzip) -> a second otlpd (nop)
#                        fwd-otlphttp-zstd,      ... -> otlphttp exporter (zstd / gzip)
#                        fwd-otlphttp-gzip
#                        fwd-otlp-disk,          fwd-otlp / fwd-otlphttp-zstd with the exporter's
#                        fwd-otlphttp-zstd-disk  sending_queue on disk (file_storage, fsync);
#                        fwd-edge-sync           the edge_sync exporter (its own queue directory, fsync);
#                                                then an outage: the upstream stops for
#                                                BENCH_DRAIN_FILL_S (5) seconds of unpaced load
#                                                and comes back; the backlog's drain rate
#                        hot-grpc, hot-http      receiver otlp -> tiered_storage (hot tier, fsync
#                                                group commit): durable ingest
#                        default-http,           the embedded default config (memory_limiter,
#                        default-grpc            batch, tiered_storage), ONE sequential client sending
#                                                512-span requests (as an SDK's batch span
#                                                processor does); no 50 % run
#                      In the fwd-* modes the second otlpd runs on the load generator's core;
#                      spans/s per core is the forwarding daemon's.
#   BENCH_PROCESSORS   processors put in the daemon's traces pipeline (not in default-*), as
#                      YAML flow-mapping entries, e.g. 'probabilistic_sampler: {sampling_percentage: 10}'
#                      or 'filter: {traces: {span: ["name == \\"x\\""]}}'; their ids go in the
#                      pipeline in order. Spans/s counts what the daemon acknowledged, so a
#                      processor's cost is 1 - rate(with it) / rate(without) per core.
#   BENCH_DAEMON_CPU   core the daemon is pinned to (0)
#   BENCH_LOADGEN_CPU  core the load generator is pinned to (1)
#   BENCH_BUILD_DIR    build directory (<repo>/build); BENCH_SKIP_BUILD=1 uses it as is
#   BENCH_JOBS         ninja -j for the build (2)
#   BENCH_SEARCH_DURATION  seconds per run of the fwd-* modes' rate search (5)
#   PERF=1             perf record -g the daemon for 10 s during an extra (uncounted)
#                      max-rate run of PERF_MODE (grpc); prints the flat profile, keeps
#                      <build>/bench-perf.data
#   PERF_CALLGRAPH     --call-graph mode for perf record (fp; try dwarf without frame pointers)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build}
DURATION=${BENCH_DURATION:-20}
WARMUP=${BENCH_WARMUP:-3}
REPS=${BENCH_REPS:-3}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
MODES=${BENCH_MODES:-grpc http}
DAEMON_CPU=${BENCH_DAEMON_CPU:-0}
LOADGEN_CPU=${BENCH_LOADGEN_CPU:-1}
JOBS=${BENCH_JOBS:-2}
PERF=${PERF:-0}
PERF_MODE=${PERF_MODE:-grpc}
SEARCH_DURATION=${BENCH_SEARCH_DURATION:-5}
DRAIN_FILL_S=${BENCH_DRAIN_FILL_S:-5}
PROCESSORS=${BENCH_PROCESSORS:-}
PERF_CALLGRAPH=${PERF_CALLGRAPH:-fp}
PERF_SECONDS=10
PERF_RECORDED_S=0
DAEMON_START_TIMEOUT_S=15

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer"
[[ $CONCURRENCY =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONCURRENCY must be a positive integer"
awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { exit !(d >= 2 && w >= 0) }' ||
  die "BENCH_DURATION must be >= 2 and BENCH_WARMUP >= 0"
for mode in $MODES; do
  case $mode in
    grpc | http | http-json | fwd-otlp | fwd-otlp-gzip | fwd-otlphttp-zstd | fwd-otlphttp-gzip) ;;
    fwd-otlp-disk | fwd-otlphttp-zstd-disk | fwd-edge-sync) ;;
    hot-grpc | hot-http) ;;
    default-http | default-grpc) ;;
    *) die "unknown mode '$mode' in BENCH_MODES" ;;
  esac
done

# --- build ----------------------------------------------------------------------------
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    log "configuring Release build in $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
  fi
  log "building otlpd and otlpd-loadgen"
  ninja -C "$BUILD_DIR" -j "$JOBS" otlpd otlpd-loadgen >&2
fi
OTLPD=$BUILD_DIR/otlpd
LOADGEN=$BUILD_DIR/otlpd-loadgen
[[ -x $OTLPD ]] || die "$OTLPD not built"
[[ -x $LOADGEN ]] || die "$LOADGEN not built"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
[[ $BUILD_TYPE == Release ]] || log "warning: $BUILD_DIR is a '${BUILD_TYPE:-unknown}' build, not Release"

# Other work on the machine steals the pinned cores and skews every figure.
LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD_AT_START" 'BEGIN { exit !(l > 0.5) }'; then
  log "warning: load average is $LOAD_AT_START; results will be noisy on a busy machine"
fi

# --- pinning ----------------------------------------------------------------------------
DAEMON_PIN=()
LOADGEN_PIN=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
  DAEMON_PIN=(taskset -c "$DAEMON_CPU")
  LOADGEN_PIN=(taskset -c "$LOADGEN_CPU")
else
  log "warning: fewer than 2 cores or no taskset; running unpinned"
fi

# --- scratch space and cleanup ------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otlpd-bench.XXXXXX")
DAEMON_PID=""
UPSTREAM_PID=""
LOADGEN_PID=""
PERF_PID=""
cleanup() {
  local pid
  for pid in "$PERF_PID" "$LOADGEN_PID" "$DAEMON_PID" "$UPSTREAM_PID"; do
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Six distinct free loopback ports: bound together so none repeats, then released.
free_ports() {
  python3 - <<'EOF'
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

CLK_TCK=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the
# command name may contain spaces, so count from the last ')').
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
now_s() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }

wait_ports() {
  local pid=$1 log=$2
  shift 2
  local deadline=$((SECONDS + DAEMON_START_TIMEOUT_S)) port
  for port in "$@"; do
    until port_open "$port"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 30 "$log" >&2 || true
        die "otlpd exited during start-up"
      fi
      ((SECONDS < deadline)) || {
        tail -n 30 "$log" >&2 || true
        die "otlpd did not open port $port within ${DAEMON_START_TIMEOUT_S}s"
      }
      sleep 0.1
    done
  done
}

# The exporter of the daemon under test for a mode.
exporter_yaml() {
  case $1 in
    fwd-otlp) echo "otlp: {endpoint: 127.0.0.1:$UP_GRPC_PORT, tls: {insecure: true}, compression: none}" ;;
    fwd-otlp-gzip) echo "otlp: {endpoint: 127.0.0.1:$UP_GRPC_PORT, tls: {insecure: true}, compression: gzip}" ;;
    fwd-otlphttp-zstd) echo "otlphttp: {endpoint: http://127.0.0.1:$UP_HTTP_PORT, compression: zstd}" ;;
    fwd-otlphttp-gzip) echo "otlphttp: {endpoint: http://127.0.0.1:$UP_HTTP_PORT, compression: gzip}" ;;
    fwd-otlp-disk) echo "otlp: {endpoint: 127.0.0.1:$UP_GRPC_PORT, tls: {insecure: true}, compression: none, sending_queue: {storage: file_storage, queue_size: 100000}}" ;;
    fwd-otlphttp-zstd-disk) echo "otlphttp: {endpoint: http://127.0.0.1:$UP_HTTP_PORT, compression: zstd, sending_queue: {storage: file_storage, queue_size: 100000}}" ;;
    fwd-edge-sync) echo "edge_sync: {directory: $WORK/data/edge, max_size: 16GiB, endpoints: [127.0.0.1:$UP_GRPC_PORT], tls: {insecure: true}, compression: none}" ;;
    hot-*) echo "tiered_storage: {directory: $WORK/data/store, hot: {max_size: 64GiB}}" ;;
    *) echo "nop:" ;;
  esac
}

# The upstream of the fwd-* modes: another otlpd into nop, on the load generator's core.
start_upstream() {
  cat >"$WORK/upstream.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:$UP_GRPC_PORT}
      http: {endpoint: 127.0.0.1:$UP_HTTP_PORT}
exporters:
  nop:
service:
  telemetry: {logs: {level: warn}, metrics: {address: 127.0.0.1:$UP_METRICS_PORT}}
  pipelines:
    traces: {receivers: [otlp], exporters: [nop]}
EOF
  "${LOADGEN_PIN[@]}" "$OTLPD" --config "$WORK/upstream.yaml" >"$WORK/upstream.log" 2>&1 &
  UPSTREAM_PID=$!
  wait_ports "$UPSTREAM_PID" "$WORK/upstream.log" "$UP_GRPC_PORT" "$UP_HTTP_PORT"
}

# Requests in the daemon's sending queue (its exporter's self-metric).
# Requests queued (edge_sync's queue is sized in bytes: its own request gauge).
daemon_queue_size() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '/^otlpd_edge_sync_queue_requests/ { e += $NF; edge = 1 }
         /^otelcol_exporter_queue_size/ { s += $NF }
         END { printf "%.0f", edge ? e : s }'
}

# Spans the upstream has accepted (its receiver's self-metric; 0 when unreachable).
upstream_spans() {
  curl -s "http://127.0.0.1:$UP_METRICS_PORT/metrics" |
    awk '/^otelcol_receiver_accepted_spans/ { s += $NF } END { printf "%.0f", s }'
}

start_daemon() {
  local mode=$1 ports
  read -r -a ports <<<"$(free_ports)"
  GRPC_PORT=${ports[0]}
  HTTP_PORT=${ports[1]}
  METRICS_PORT=${ports[2]}
  UP_GRPC_PORT=${ports[3]}
  UP_HTTP_PORT=${ports[4]}
  UP_METRICS_PORT=${ports[5]}
  if [[ $mode == fwd-* ]]; then
    start_upstream
  fi
  if [[ $mode == default-* ]]; then
    # The embedded default config, with free ports and its data under the scratch dir.
    "$OTLPD" --print-default-config | sed \
      -e "s#127.0.0.1:4317#127.0.0.1:$GRPC_PORT#" -e "s#127.0.0.1:4318#127.0.0.1:$HTTP_PORT#" \
      -e "s#127.0.0.1:8888#127.0.0.1:$METRICS_PORT#" -e "s#127.0.0.1:13133#127.0.0.1:$UP_METRICS_PORT#" \
      -e "s#127.0.0.1:16686#127.0.0.1:$UP_HTTP_PORT#" \
      -e "s#directory: \./data#directory: $WORK/data#" >"$WORK/otlpd.yaml"
  else
    # The *-disk modes keep the exporter's sending queue on disk (file_storage, fsync).
    local extensions="{}" uses="[]"
    if [[ $mode == *-disk || $mode == fwd-edge-sync ]]; then
      rm -rf "$WORK/data/queue"
      extensions="{file_storage: {directory: $WORK/data/queue, create_directory: true}}"
      uses="[file_storage]"
    fi
    # The processors' ids, in order: each top-level key of the BENCH_PROCESSORS mapping.
    local processor_ids=""
    if [[ -n $PROCESSORS ]]; then
      # Keys are what precedes a ':' at nesting depth 0, outside quotes.
      processor_ids=$(awk '{
        depth = 0; q = ""; key = ""; ids = ""
        for (i = 1; i <= length($0); i++) {
          c = substr($0, i, 1)
          if (q != "") { if (c == q) q = ""; continue }
          if (c == "\"" || c == "\047") { q = c; continue }
          if (c == "{" || c == "[") depth++
          else if (c == "}" || c == "]") depth--
          else if (depth == 0 && c == ":" && key != "") { gsub(/^[ ,]+|[ ]+$/, "", key); ids = ids (ids == "" ? "" : ", ") key; key = "" }
          else if (depth == 0 && c == ",") key = ""
          else if (depth == 0) key = key c
        }
        print ids }' <<<"$PROCESSORS")
      [[ -n $processor_ids ]] || die "BENCH_PROCESSORS is not a YAML mapping's entries: $PROCESSORS"
    fi
    cat >"$WORK/otlpd.yaml" <<EOF
extensions: $extensions
processors: {$PROCESSORS}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: 127.0.0.1:$GRPC_PORT}
      http: {endpoint: 127.0.0.1:$HTTP_PORT}
exporters:
  $(exporter_yaml "$mode")
service:
  extensions: $uses
  telemetry: {logs: {level: warn}, metrics: {address: 127.0.0.1:$METRICS_PORT}}
  pipelines:
    traces: {receivers: [otlp], processors: [$processor_ids], exporters: [$(exporter_yaml "$mode" | cut -d: -f1)]}
EOF
  fi
  "${DAEMON_PIN[@]}" "$OTLPD" --config "$WORK/otlpd.yaml" >"$WORK/otlpd.log" 2>&1 &
  DAEMON_PID=$!
  wait_ports "$DAEMON_PID" "$WORK/otlpd.log" "$GRPC_PORT" "$HTTP_PORT"
}

stop_pid() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_daemon() {
  stop_pid "$DAEMON_PID"
  DAEMON_PID=""
  stop_pid "$UPSTREAM_PID"
  UPSTREAM_PID=""
  rm -rf "$WORK/data"
}

perf_usable() {
  command -v perf >/dev/null && perf record -q -e cpu-clock -o "$WORK/perf.probe" -- true >/dev/null 2>&1
}

# field NAME LINE: value of NAME=value in a RESULT line.
field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# run_load MODE RATE PROFILE: one loadgen run against the current daemon. Sets RUN_LINE to
# "<RESULT line> cpu_util=<daemon cores busy>"; PROFILE=1 also records a perf profile.
# (A global, not stdout: a command substitution would hide the child PIDs from cleanup.)
run_load() {
  local mode=$1 rate=$2 profile=$3
  local args=(--duration "$DURATION" --warmup "$WARMUP" --rate "$rate")
  case $mode in
    default-*) args+=(--concurrency 1 --spans_per_request 512) ;;
    *) args+=(--concurrency "$CONCURRENCY") ;;
  esac
  case $mode in
    grpc | fwd-* | default-grpc | hot-grpc) args+=(--transport grpc --endpoint "127.0.0.1:$GRPC_PORT") ;;
    http | default-http | hot-http) args+=(--transport http --encoding proto --endpoint "127.0.0.1:$HTTP_PORT") ;;
    http-json) args+=(--transport http --encoding json --endpoint "127.0.0.1:$HTTP_PORT") ;;
  esac
  "${LOADGEN_PIN[@]}" "$LOADGEN" "${args[@]}" >"$WORK/loadgen.out" 2>"$WORK/loadgen.err" &
  LOADGEN_PID=$!

  # Sample the daemon's CPU inside the measured window, a margin away from both ends.
  local margin=0.3
  sleep "$(awk -v w="$WARMUP" -v m="$margin" 'BEGIN { print w + m }')"
  local t0 c0 t1 c1
  t0=$(now_s)
  c0=$(cpu_ticks "$DAEMON_PID")
  if [[ $profile == 1 ]]; then
    local seconds
    seconds=$(awk -v d="$DURATION" -v p="$PERF_SECONDS" -v m="$margin" \
      'BEGIN { s = d - 2 * m; print (s < p ? s : p) }')
    PERF_RECORDED_S=$seconds
    perf record -q -e cpu-clock --call-graph "$PERF_CALLGRAPH" -p "$DAEMON_PID" \
      -o "$WORK/perf.data" -- sleep "$seconds" >"$WORK/perf.log" 2>&1 &
    PERF_PID=$!
  fi
  sleep "$(awk -v d="$DURATION" -v m="$margin" 'BEGIN { print d - 2 * m }')"
  t1=$(now_s)
  c1=$(cpu_ticks "$DAEMON_PID")
  if [[ -n $PERF_PID ]]; then
    wait "$PERF_PID" || log "warning: perf record failed: $(tail -n 3 "$WORK/perf.log")"
    PERF_PID=""
  fi

  local status=0
  wait "$LOADGEN_PID" || status=$?
  LOADGEN_PID=""
  local result
  result=$(grep '^RESULT ' "$WORK/loadgen.out" || true)
  if [[ $status != 0 || -z $result ]]; then
    cat "$WORK/loadgen.out" "$WORK/loadgen.err" >&2
    tail -n 30 "$WORK/otlpd.log" >&2 || true
    die "otlpd-loadgen failed ($mode, rate $rate, exit $status)"
  fi
  local util
  util=$(awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.3f", (c1 - c0) / hz / (t1 - t0) }')
  RUN_LINE="$result cpu_util=$util"
}

# passes MODE RATE: one short paced run; true when nothing was refused and at least 98 % of
# the target rate was accepted.
passes() {
  run_load "$1" "$2" 0
  log "  search $2 spans/s: $(field spans_per_sec "$RUN_LINE") accepted, $(field errors "$RUN_LINE") refused, cpu $(field cpu_util "$RUN_LINE")"
  awk -v e="$(field errors "$RUN_LINE")" -v g="$(field spans_per_sec "$RUN_LINE")" -v r="$2" \
    'BEGIN { exit !(e == 0 && g >= 0.98 * r) }'
}

# sustainable_rate MODE START: the highest paced rate (within ~5 %) the daemon keeps up with
# without refusing anything, searched with short runs from START (the overload goodput).
# Unpaced load measures overload instead: a forwarding daemon then spends its core on
# requests it refuses because its queue is full, and forwards less than it can sustain.
SUSTAINABLE=0
sustainable_rate() {
  local mode=$1 lo=$2 hi i
  local saved_duration=$DURATION saved_warmup=$WARMUP
  DURATION=$SEARCH_DURATION
  WARMUP=1
  for ((i = 0; i < 6; ++i)); do
    passes "$mode" "$lo" && break
    lo=$((lo / 2))
  done
  hi=$((lo * 2))
  for ((i = 0; i < 4; ++i)); do
    passes "$mode" "$hi" || break
    lo=$hi
    hi=$((hi * 2))
  done
  while ((hi - lo > lo / 20)); do
    local mid=$(((lo + hi) / 2))
    if passes "$mode" "$mid"; then lo=$mid; else hi=$mid; fi
  done
  DURATION=$saved_duration
  WARMUP=$saved_warmup
  SUSTAINABLE=$lo
}

# median_run FILE: the line of FILE (one run per line) with the median spans_per_sec.
median_run() {
  local file=$1 n
  n=$(wc -l <"$file")
  while read -r line; do
    printf '%s %s\n' "$(field spans_per_sec "$line")" "$line"
  done <"$file" | sort -n -k1,1 | sed -n "$(((n + 1) / 2))p" | cut -d' ' -f2-
}

# --- the runs ---------------------------------------------------------------------------
PROFILE_DONE=0
if [[ $PERF == 1 ]] && ! perf_usable; then
  log "warning: PERF=1 but perf cannot record here; profiling skipped"
  PROFILE_DONE=1
fi

declare -A MAX_LINE HALF_LINE MAX_RSS HALF_RSS OVERLOAD_LINE DRAIN_LINE
for mode in $MODES; do
  # Maximum rate: fresh daemon, BENCH_REPS runs at rate 0, median.
  start_daemon "$mode"
  : >"$WORK/max.$mode"
  if [[ $PERF == 1 && $PROFILE_DONE == 0 && $mode == "$PERF_MODE" ]]; then
    # An extra run that is not counted: perf itself costs the daemon throughput.
    PROFILE_DONE=1
    log "$mode max rate under perf record (not counted)"
    run_load "$mode" 0 1
    log "  $RUN_LINE"
    if [[ -s $WORK/perf.data ]]; then
      perf report -i "$WORK/perf.data" --stdio --no-children -g none 2>/dev/null | head -60 \
        >"$WORK/perf.report" || true
      cp "$WORK/perf.data" "$BUILD_DIR/bench-perf.data" 2>/dev/null || true
    fi
  fi
  max_rate=0
  if [[ $mode == fwd-* ]]; then
    # Forwarding: the highest rate sustained without refusals (see sustainable_rate).
    log "$mode overload goodput (unpaced, ${SEARCH_DURATION}s)"
    saved_duration=$DURATION
    DURATION=$SEARCH_DURATION
    run_load "$mode" 0 0
    DURATION=$saved_duration
    OVERLOAD_LINE[$mode]=$RUN_LINE
    log "  $RUN_LINE"
    sustainable_rate "$mode" "$(field spans_per_sec "$RUN_LINE" | cut -d. -f1)"
    # A 5 % margin: the search's runs are short.
    max_rate=$((SUSTAINABLE * 95 / 100))
    log "$mode sustains $max_rate spans/s"
  fi
  for ((rep = 1; rep <= REPS; rep++)); do
    log "$mode max rate, run $rep/$REPS (${WARMUP}s warm-up + ${DURATION}s, rate $max_rate)"
    run_load "$mode" "$max_rate" 0
    log "  $RUN_LINE"
    printf '%s\n' "$RUN_LINE" >>"$WORK/max.$mode"
    if awk -v u="$(field loadgen_cpu_util "$RUN_LINE")" 'BEGIN { exit !(u > 0.9) }'; then
      log "  warning: otlpd-loadgen used $(field loadgen_cpu_util "$RUN_LINE") cores; the client may be the limit"
    fi
  done
  MAX_LINE[$mode]=$(median_run "$WORK/max.$mode")
  MAX_RSS[$mode]=$(peak_rss_kib "$DAEMON_PID")
  stop_daemon

  # Half load: fresh daemon, paced at 50 % of the median maximum (not for one sequential
  # client, whose latency at max is already its latency).
  half_rate=$(awk -v r="$(field spans_per_sec "${MAX_LINE[$mode]}")" 'BEGIN { printf "%.0f", r / 2 }')
  if [[ $half_rate == 0 ]]; then
    die "$mode: no spans accepted at max rate"
  fi
  if [[ $mode == default-* ]]; then
    HALF_LINE[$mode]=${MAX_LINE[$mode]}
    HALF_RSS[$mode]=${MAX_RSS[$mode]}
    continue
  fi
  start_daemon "$mode"
  : >"$WORK/half.$mode"
  for ((rep = 1; rep <= REPS; rep++)); do
    log "$mode at 50 % ($half_rate spans/s), run $rep/$REPS"
    run_load "$mode" "$half_rate" 0
    log "  $RUN_LINE"
    printf '%s\n' "$RUN_LINE" >>"$WORK/half.$mode"
  done
  HALF_LINE[$mode]=$(median_run "$WORK/half.$mode")
  HALF_RSS[$mode]=$(peak_rss_kib "$DAEMON_PID")
  stop_daemon

  if [[ $mode == *-disk || $mode == fwd-edge-sync ]]; then
    # Outage and backlog drain: the upstream is down while the daemon queues what it
    # accepts (unpaced, DRAIN_FILL_S seconds); then it comes back and the backlog goes.
    start_daemon "$mode"
    stop_pid "$UPSTREAM_PID"
    UPSTREAM_PID=""
    saved_duration=$DURATION
    DURATION=$DRAIN_FILL_S
    log "$mode outage: filling the queue for ${DRAIN_FILL_S}s"
    run_load "$mode" 0 0
    DURATION=$saved_duration
    backlog_requests=$(daemon_queue_size)
    start_upstream
    t0=$(now_s)
    deadline=$((SECONDS + 600))
    # The senders come back from their retry back-off first; the rate counts from the
    # first span the upstream gets.
    while (($(upstream_spans) == 0)) && ((SECONDS < deadline)); do sleep 0.05; done
    t_first=$(now_s)
    first=$(upstream_spans)
    while (($(daemon_queue_size) > 0)) && ((SECONDS < deadline)); do sleep 0.2; done
    t1=$(now_s)
    drained=$(upstream_spans)
    DRAIN_LINE[$mode]=$(awk -v n="$drained" -v f="$first" -v b="$backlog_requests" -v t0="$t0" \
      -v tf="$t_first" -v t1="$t1" -v left="$(daemon_queue_size)" 'BEGIN { printf "%d queued requests, %d spans delivered (%d requests left); first after %.1f s (retry back-off), then %.0f spans/s", b, n, left, tf - t0, (n - f) / (t1 - tf) }')
    log "  drain: ${DRAIN_LINE[$mode]}"
    stop_daemon
  fi
done

# --- report -----------------------------------------------------------------------------
mode_label() {
  case $1 in
    grpc) echo "OTLP/gRPC -> nop" ;;
    http) echo "OTLP/HTTP protobuf -> nop" ;;
    http-json) echo "OTLP/HTTP JSON -> nop" ;;
    fwd-otlp) echo "gRPC -> otlp (none) -> otlpd" ;;
    fwd-otlp-gzip) echo "gRPC -> otlp (gzip) -> otlpd" ;;
    fwd-otlphttp-zstd) echo "gRPC -> otlphttp (zstd) -> otlpd" ;;
    fwd-otlphttp-gzip) echo "gRPC -> otlphttp (gzip) -> otlpd" ;;
    fwd-otlp-disk) echo "gRPC -> otlp (none, queue on disk, fsync) -> otlpd" ;;
    fwd-otlphttp-zstd-disk) echo "gRPC -> otlphttp (zstd, queue on disk, fsync) -> otlpd" ;;
    fwd-edge-sync) echo "gRPC -> edge_sync (grpc, none, its queue directory, fsync) -> otlpd" ;;
    hot-grpc) echo "gRPC -> tiered_storage (hot, fsync group commit)" ;;
    hot-http) echo "OTLP/HTTP protobuf -> tiered_storage (hot, fsync group commit)" ;;
    default-http) echo "default config, 1 sequential HTTP client, 512 spans/req" ;;
    default-grpc) echo "default config, 1 sequential gRPC client, 512 spans/req" ;;
  esac
}
fmt_int() { awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); n = length(s); o = "";
  for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o }'; }

if [[ -s $WORK/perf.report ]]; then
  echo
  echo "perf profile of otlpd (${PERF_RECORDED_S}s of an extra $PERF_MODE max-rate run, cpu-clock, self time;"
  echo "call graphs: perf report -i $BUILD_DIR/bench-perf.data):"
  cat "$WORK/perf.report"
fi
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
echo
echo "otlpd $revision, $(uname -r), ${cpu_model:-unknown CPU};"
echo "daemon on core $DAEMON_CPU, otlpd-loadgen on core $LOADGEN_CPU (and the upstream otlpd of fwd-*), concurrency $CONCURRENCY;"
echo "100 spans/request (10 × 20-char string attributes + 1 event each) unless the mode says otherwise;"
echo "median of $REPS × ${DURATION}s after ${WARMUP}s warm-up; fwd-* at the highest rate sustained without refusals;"
echo "load average at start $LOAD_AT_START."
echo
echo "| Transport | Spans/s accepted | Daemon CPU (cores) | Spans/s per core | p50 / p99 ms at max | Spans/s at 50 % | p50 / p99 ms at 50 % | Peak RSS MiB (max / 50 %) | Errors | Loadgen CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for mode in $MODES; do
  max=${MAX_LINE[$mode]}
  half=${HALF_LINE[$mode]}
  spans=$(field spans_per_sec "$max")
  util=$(field cpu_util "$max")
  per_core=$(awk -v s="$spans" -v u="$util" 'BEGIN { printf "%.0f", (u > 0 ? s / u : 0) }')
  errors=$(($(field errors "$max") + $(field errors "$half")))
  printf '| %s | %s | %.2f | %s | %.2f / %.2f | %s | %.2f / %.2f | %.1f / %.1f | %s | %.2f |\n' \
    "$(mode_label "$mode")" "$(fmt_int "$spans")" "$util" "$(fmt_int "$per_core")" \
    "$(field p50_ms "$max")" "$(field p99_ms "$max")" \
    "$(fmt_int "$(field spans_per_sec "$half")")" "$(field p50_ms "$half")" "$(field p99_ms "$half")" \
    "$(awk -v k="${MAX_RSS[$mode]}" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="${HALF_RSS[$mode]}" 'BEGIN { print k / 1024 }')" "$errors" \
    "$(field loadgen_cpu_util "$max")"
done

overload_modes=""
for mode in $MODES; do [[ -n ${OVERLOAD_LINE[$mode]:-} ]] && overload_modes+=" $mode"; done
if [[ -n $overload_modes ]]; then
  echo
  echo "Unpaced (overload) goodput of the forwarding modes: accepted spans/s while more is offered"
  echo "than can be forwarded (the rest refused, retryably):"
  echo
  echo "| Mode | Spans/s accepted | Refused requests | Daemon CPU (cores) |"
  echo "|---|---:|---:|---:|"
  for mode in $overload_modes; do
    line=${OVERLOAD_LINE[$mode]}
    printf '| %s | %s | %s | %.2f |\n' "$(mode_label "$mode")" "$(fmt_int "$(field spans_per_sec "$line")")" \
      "$(field errors "$line")" "$(field cpu_util "$line")"
  done
fi

for mode in $MODES; do
  if [[ -n ${DRAIN_LINE[$mode]:-} ]]; then
    echo
    echo "Backlog drain, $(mode_label "$mode"): the upstream down for ${DRAIN_FILL_S}s of unpaced"
    echo "load, then back: ${DRAIN_LINE[$mode]}."
  fi
done
