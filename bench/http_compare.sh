#!/bin/bash
# bench/http_compare.sh: the HTTP example (hop, 2 loops and 1 loop) against its libuv twin
# (bench/peers/uv_http.c, UV_THREADPOOL_SIZE=threads) and Go's net/http doing the same work
# (bench/peers/go_http, built here with go build if Go is installed), under wrk, one server at
# a time; each server is stopped with SIGINT and must exit 0. Prints req/s, p50/p99/max, wrk's
# timeouts, CPU per request (the server's utime+stime over the run / its requests) and the
# server's peak resident memory (VmHWM, read before it is stopped).
# usage: bench/http_compare.sh conns duration_s sleep_us hash_bytes [threads]
#   threads: the blocking threads: hop's blocking pool cap, UV_THREADPOOL_SIZE, and Go's
#   semaphore around the blocking call; absent: 512 for hop (its default), 64 for libuv,
#   none for Go (the runtime hands a blocked thread's P to another thread).
# Environment:
#   ROUNDS=N   run the servers in turn N times (default 1); with N > 1 a summary follows: each
#              server's medians, and the medians of each hop server's per-round ratios to the twin
#              and to Go (rounds taken minutes apart on a noisy machine compare badly; the
#              ratio of two runs a few seconds apart compares well)
#   SERVERS    which servers, in this order (default "hop-2loops uv go-nethttp hop-1loop")
if [ $# -lt 4 ]; then
  echo "usage: [ROUNDS=N] [SERVERS=...] $0 conns duration_s sleep_us hash_bytes [threads]" >&2
  exit 2
fi
C=$1; D=$2; SL=$3; HB=$4; T=${5:-}
ROUNDS=${ROUNDS:-1}
SERVERS=${SERVERS:-hop-2loops uv go-nethttp hop-1loop}
R=${HOP_BUILD:-out/rel}   # a Release build with -DHOP_BUILD_BENCH=ON -DHOP_BUILD_EXAMPLES=ON
R=$(cd "$R" && pwd) || exit 1   # absolute: Go's caches below must not land under $PWD
HERE=$(cd "$(dirname "$0")" && pwd)
GO_HTTP=$R/bench/go-http
if command -v go >/dev/null && [ ! -x "$GO_HTTP" -o "$HERE/peers/go_http/main.go" -nt "$GO_HTTP" ]; then
  GOCACHE=$R/go-cache GOPATH=$R/go-path GO111MODULE=off GOTOOLCHAIN=local CGO_ENABLED=0 \
    go build -o "$GO_HTTP" "$HERE/peers/go_http/main.go" || GO_HTTP=
fi
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() {
  name=$1; shift
  "$@" > /tmp/serving_srv.log 2>&1 &
  P=$!
  sleep 1
  c0=$(cpu $P)
  out=$(wrk -t2 -c$C -d${D}s --latency http://127.0.0.1:$PORT/ 2>&1)
  c1=$(cpu $P)
  rss_kib=$(awk '/^VmHWM:/{print $2}' /proc/$P/status)
  kill -INT $P; wait $P; rc=$?
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  max=$(echo "$out" | awk '/Latency/{print $4}')
  err=$(echo "$out" | awk '/Socket errors/{print $0}')
  ticks=$((c1-c0))
  cpu_us=$(python3 -c "print(round($ticks*10000/max(1,$reqs),1))")
  rss_mib=$(python3 -c "print(round(${rss_kib:-0} / 1024, 1))")
  echo "$name c=$C sleep=$SL hash=$HB threads=${T:-default}: $rps req/s p50 $p50 p99 $p99 max $max cpu/req ${cpu_us}us rss ${rss_mib}MiB exit=$rc $err"
  echo "$round $name ${rps:-0} ${p99:-0} $cpu_us $rss_mib" >> "$TABLE"
  [ "$rc" = 0 ] || failed=1
}
TABLE=$(mktemp)
trap 'rm -f "$TABLE"' EXIT
for round in $(seq "$ROUNDS"); do
  # A fresh port per server and round: a port just closed may linger in TIME_WAIT.
  base=$((18090 + 10 * (round % 50)))
  for s in $SERVERS; do
    case $s in
      hop-2loops) PORT=$base run hop-2loops $R/examples/example_http_server $base 2 $SL $HB ${T:-0} ;;
      uv) PORT=$((base + 1)) run uv env UV_THREADPOOL_SIZE=${T:-64} $R/bench/uv-http $((base + 1)) $SL $HB ;;
      go-nethttp) [ -n "$GO_HTTP" ] && PORT=$((base + 3)) run go-nethttp $GO_HTTP $((base + 3)) $SL $HB ${T:-0} ;;
      hop-1loop) PORT=$((base + 2)) run hop-1loop $R/examples/example_http_server $((base + 2)) 1 $SL $HB ${T:-0} ;;
      *) echo "unknown server $s (hop-2loops, uv, go-nethttp, hop-1loop)" >&2; exit 2 ;;
    esac
  done
done
[ "$ROUNDS" -gt 1 ] && python3 - "$TABLE" <<'PY'
import statistics, sys
def ms(v):  # wrk's latency: 812.00us, 3.45ms, 1.02s
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float("nan")
rows = {}
for line in open(sys.argv[1]):
    rnd, name, rps, p99, cpu, rss = line.split()
    rows.setdefault(name, {})[rnd] = (float(rps), ms(p99), float(cpu), float(rss))
print(f"\nmedians over the rounds ({len(next(iter(rows.values())))} rounds):")
for name, by_round in rows.items():
    v = list(by_round.values())
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"  {name:11} {med(0):10.1f} req/s  p99 {med(1):8.2f} ms  cpu/req {med(2):7.1f} us  rss {med(3):7.1f} MiB")
for hop in ("hop-2loops", "hop-1loop"):
    ref = rows.get(hop, {})
    for peer in ("uv", "go-nethttp"):
        common = [r for r in ref if r in rows.get(peer, {})]
        if not common:
            continue
        ratio = lambda i: statistics.median(ref[r][i] / rows[peer][r][i] for r in common if rows[peer][r][i] > 0)
        print(f"  {hop} / {peer}, median of per-round ratios: req/s {ratio(0):.2f}x, "
              f"p99 {ratio(1):.2f}x, cpu/req {ratio(2):.2f}x, rss {ratio(3):.2f}x")
PY
exit ${failed:-0}
