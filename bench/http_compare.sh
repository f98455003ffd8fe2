#!/bin/bash
# bench/http_compare.sh: the HTTP example (hop, 2 loops and 1 loop) against its libuv twin
# (bench/peers/uv_http.c, UV_THREADPOOL_SIZE=threads) and Go's net/http doing the same work
# (bench/peers/go_http, built here with go build if Go is installed), under wrk, one server at
# a time; each server is stopped with SIGINT and must exit 0. Prints req/s, p50/p99/max, wrk's
# timeouts and CPU per request (the server's utime+stime over the run / its requests).
# usage: bench/http_compare.sh conns duration_s sleep_us hash_bytes [threads]
#   threads: the blocking threads: hop's blocking pool cap, UV_THREADPOOL_SIZE, and Go's
#   semaphore around the blocking call; absent: 512 for hop (its default), 64 for libuv,
#   none for Go (the runtime hands a blocked thread's P to another thread).
C=$1; D=$2; SL=$3; HB=$4; T=${5:-}
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
  kill -INT $P; wait $P; rc=$?
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  max=$(echo "$out" | awk '/Latency/{print $4}')
  err=$(echo "$out" | awk '/Socket errors/{print $0}')
  ticks=$((c1-c0))
  cpu_us=$(python3 -c "print(round($ticks*10000/max(1,$reqs),1))")
  echo "$name c=$C sleep=$SL hash=$HB threads=${T:-default}: $rps req/s p50 $p50 p99 $p99 max $max cpu/req ${cpu_us}us exit=$rc $err"
}
PORT=18090 run hop-2loops $R/examples/example_http_server 18090 2 $SL $HB ${T:-0}
PORT=18091 run uv env UV_THREADPOOL_SIZE=${T:-64} $R/bench/uv-http 18091 $SL $HB
[ -n "$GO_HTTP" ] && PORT=18093 run go-nethttp $GO_HTTP 18093 $SL $HB ${T:-0}
PORT=18092 run hop-1loop $R/examples/example_http_server 18092 1 $SL $HB ${T:-0}
