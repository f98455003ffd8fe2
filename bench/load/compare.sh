#!/usr/bin/env bash
# bench/load/compare.sh: hop-load against wrk, both driving the same nginx on
# 127.0.0.1 (a minimal config under a temp dir, serving a small static file),
# with the same connections, threads and duration. Not run in CI.
#
#   apt-get install -y nginx-light         # once (wrk comes with .ci/setup)
#   bench/load/compare.sh [hop-load binary] [connections] [threads] [duration] [repetitions]
#
# For each repetition it runs wrk, then hop-load (alternating which goes first),
# and prints one line per run: requests/s, CPU seconds (user+sys of the load
# generator, from /usr/bin/time or /proc), CPU microseconds per request, p50
# and p99, and the 1-minute load average at the start. nginx runs one worker
# process, pinned nowhere; the load generators get the same -t.
#
# HOP_LOAD_ARGS="--busy-poll 20" passes more options to hop-load.
# SERVER=path/to/example_http_server drives hop's HTTP example instead of
# nginx (one loop, no sleep and no hash: each request costs only its parse,
# its offload to the blocking pool and its answer). SERVER_WORK="10000 0"
# makes each request sleep 10 ms (and hash 0 bytes) on the blocking pool
# instead: a server whose pace does not depend on the client, so that both
# tools should see the same requests/s and latencies.
set -euo pipefail
HOP_LOAD=${1:-out/rel/examples/example_hop_load}
CONNS=${2:-50}
THREADS=${3:-1}
DURATION=${4:-5s}
REPS=${5:-3}
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install -y wrk)" >&2; exit 2; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx not installed (apt-get install -y nginx-light)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$HOP_LOAD" ] || { echo "no hop-load binary at $HOP_LOAD" >&2; exit 2; }

dir=$(mktemp -d /tmp/hopload-nginx.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$dir/www" "$dir/logs"
chmod 755 "$dir" "$dir/www"   # nginx workers run as an unprivileged user
head -c 612 /dev/zero | tr '\0' 'x' > "$dir/www/index.html"   # nginx's default page is 612 bytes
cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        location / { }
    }
}
CONF
if [ -n "${SERVER:-}" ]; then
    "$SERVER" "$port" 1 ${SERVER_WORK:-0 0} > "$dir/logs/server.out" 2>&1 &
    server_pid=$!
    trap 'kill -INT $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
    server_name="hop's HTTP example (1 loop)"
    url="http://127.0.0.1:$port/"
    for _ in $(seq 50); do curl -sf "$url" -o /dev/null 2>/dev/null && break; sleep 0.1; done
else
"$NGINX" -p "$dir" -c "$dir/nginx.conf"
trap '"$NGINX" -p "$dir" -c "$dir/nginx.conf" -s stop 2>/dev/null || true; sleep 0.2; rm -rf "$dir"' EXIT
sleep 0.3
server_name="nginx (1 worker)"
url="http://127.0.0.1:$port/index.html"
fi
curl -sf "$url" -o /dev/null 2>/dev/null || python3 -c "import urllib.request; urllib.request.urlopen('$url').read()"

echo "# $(grep 'model name' /proc/cpuinfo | head -1 | sed 's/.*: //'), $(nproc) CPUs"
echo "# -c $CONNS -t $THREADS -d $DURATION against $server_name at $url"
printf '%-9s %3s %11s %8s %10s %9s %9s %6s\n' tool rep req/s cpu_s cpu_us/req p50 p99 load1
: > "$dir/rows"

# Runs "$@" under /usr/bin/time (or bash's times) and prints user+sys seconds to $dir/cpu.
run_timed() {
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%U %S' -o "$dir/cpu" "$@"
        awk '{print $1 + $2}' "$dir/cpu" > "$dir/cpu_s"
    else
        local before after
        before=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
        "$@"
        after=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
        echo "scale=3; ($after - $before) / $(getconf CLK_TCK)" | bc > "$dir/cpu_s"
    fi
}

# wrk's latencies as "1.23ms" into microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") print n; else if (u == "ms") print n * 1000; else if (u == "s") print n * 1e6; else print n * 6e7 }'; }

run_wrk() {
    local rep=$1 load
    load=$(cut -d' ' -f1 /proc/loadavg)
    run_timed wrk -c "$CONNS" -t "$THREADS" -d "$DURATION" --latency "$url" > "$dir/wrk.out"
    local rps p50 p99 cpu n
    rps=$(awk '/^Requests\/sec/ {print $2}' "$dir/wrk.out")
    n=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$dir/wrk.out")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$dir/wrk.out")")
    cpu=$(cat "$dir/cpu_s")
    printf '%-9s %3d %11.0f %8.2f %10.2f %7.0fus %7.0fus %6s\n' wrk "$rep" "$rps" "$cpu" \
        "$(echo "$cpu * 1000000 / $n" | bc -l)" "$p50" "$p99" "$load" | tee -a "$dir/rows"
}

run_hop() {
    local rep=$1 load
    load=$(cut -d' ' -f1 /proc/loadavg)
    run_timed "$HOP_LOAD" -q --json ${HOP_LOAD_ARGS:-} -c "$CONNS" -t "$THREADS" -d "$DURATION" "$url" > "$dir/hop.json"
    python3 - "$dir/hop.json" "$(cat "$dir/cpu_s")" "$rep" "$load" <<'PY' | tee -a "$dir/rows"
import json, sys
r = json.load(open(sys.argv[1])); cpu = float(sys.argv[2])
errs = sum(r["errors"].values())
print("%-9s %3d %11.0f %8.2f %10.2f %7.0fus %7.0fus %6s%s" % ("hop-load", int(sys.argv[3]), r["requests_per_s"], cpu,
      cpu * 1e6 / max(r["requests"], 1), r["latency_us"]["p50"], r["latency_us"]["p99"], sys.argv[4],
      "  (%d errors)" % errs if errs else ""))
PY
}

for rep in $(seq 1 "$REPS"); do
    if [ $((rep % 2)) -eq 1 ]; then run_wrk "$rep"; run_hop "$rep"; else run_hop "$rep"; run_wrk "$rep"; fi
done

# Per repetition, hop-load / wrk (the two runs of a repetition are adjacent in
# time, so they share most of the machine's load), and the medians.
python3 - "$dir/rows" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(int(f[1]), {})[f[0]] = (float(f[2]), float(f[4]), float(f[5][:-2]), float(f[6][:-2]))
ratios = [(r, v["hop-load"], v["wrk"]) for r, v in sorted(rows.items()) if "hop-load" in v and "wrk" in v]
print("rep  req/s hop/wrk  cpu/req hop/wrk  p50 hop/wrk  p99 hop/wrk")
for r, h, w in ratios:
    print("%3d  %13.2f  %15.2f  %11.2f  %11.2f" % (r, h[0] / w[0], h[1] / w[1], h[2] / w[2], h[3] / w[3]))
if ratios:
    med = lambda i: statistics.median(h[i] / w[i] for _, h, w in ratios)
    print("med  %13.2f  %15.2f  %11.2f  %11.2f" % (med(0), med(1), med(2), med(3)))
PY
