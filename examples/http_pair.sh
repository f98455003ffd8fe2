#!/usr/bin/env bash
# examples/http_pair.sh: runs the HTTP server example with hop-load against
# it: the server on a free port in the background, a one-second hop-load run,
# then Ctrl-C (SIGINT) to the server, which must shut down gracefully and
# exit 0.
#
#   examples/http_pair.sh BUILD_EXAMPLES_DIR [WRAPPER...]
#
# WRAPPER (e.g. valgrind -q --error-exitcode=99) runs both programs.
# Exit status: 0 when hop-load and the server both exit 0.
set -uo pipefail
dir=$1; shift
port=$((20000 + ($$ + 7919) % 20000))
"$@" "$dir/example_http_server" "$port" 1 &
server=$!
trap 'kill -KILL "$server" 2>/dev/null' EXIT
# The server is up when its port accepts a connection (valgrind starts slowly).
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { echo "http_pair: the server exited early"; exit 1; }
    sleep 0.1
done
"$@" "$dir/example_hop_load" -q -c 4 -t 1 -d 1s "http://127.0.0.1:$port/"
client=$?
kill -INT "$server"
wait "$server"
server_status=$?
trap - EXIT
echo "http_pair: hop-load exit $client, server exit $server_status"
[ "$client" -eq 0 ] && [ "$server_status" -eq 0 ]
