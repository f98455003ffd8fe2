#!/usr/bin/env bash
# examples/echo_pair.sh: runs the echo server and client examples together:
# the server on a free port in the background, the client against it, then
# Ctrl-C (SIGINT) to the server, which must stop accepting and exit 0.
#
#   examples/echo_pair.sh BUILD_EXAMPLES_DIR [WRAPPER...]
#
# WRAPPER (e.g. valgrind -q --error-exitcode=99) runs both programs.
# Exit status: 0 when the client and the server both exit 0.
set -uo pipefail
dir=$1; shift
port=$((20000 + $$ % 20000))
"$@" "$dir/example_echo_server" "$port" 5000 &
server=$!
trap 'kill -KILL "$server" 2>/dev/null' EXIT
# The server is up when its port accepts a connection (valgrind starts slowly).
for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { echo "echo_pair: the server exited early"; exit 1; }
    sleep 0.1
done
"$@" "$dir/example_echo_client" 127.0.0.1 "$port" 10 100
client=$?
kill -INT "$server"
wait "$server"
server_status=$?
trap - EXIT
echo "echo_pair: client exit $client, server exit $server_status"
[ "$client" -eq 0 ] && [ "$server_status" -eq 0 ]
