#!/usr/bin/env bash
# tests/gdb/run.sh TARGET: runs tests/gdb/gdb_target.c's binary under gdb with
# gdb/hop-gdb.py loaded, stops at hop_gdb_checkpoint, and checks that
# `info hop-tasks` lists both parked tasks with their awaitables and spawn
# sites and that `hop-bt` shows the deep task's frames down to its entry.
set -euo pipefail
target=$1
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
script="$here/../../gdb/hop-gdb.py"
out=$(gdb -nx -batch -q \
    -ex "source $script" \
    -ex "break hop_gdb_checkpoint" \
    -ex "run" \
    -ex "info hop-tasks" \
    -ex "hop-bt 1" \
    -ex "hop-bt 2" \
    -ex "continue" \
    "$target" 2>&1) || { echo "$out"; echo "gdb failed"; exit 1; }
echo "$out"
fail=0
expect() {
    if ! grep -Eq -- "$1" <<<"$out"; then
        echo "MISSING: $1"
        fail=1
    fi
}
expect '"deep waiter" suspended on manual, waiting on "future 0x[0-9a-f]+", spawned at .*gdb_target\.c:[0-9]+'
expect '"event waiter" suspended on manual, waiting on "event 0x[0-9a-f]+"'
expect '^2 tasks$'
expect 'parked_level_two'
expect 'parked_level_one'
expect 'deep_task'
# clang's assembler names the label's debug entry hop.context_start
expect 'hop(__|\.)context_start'
expect 'event_task'
expect 'gdb_target: done'
if grep -q "Backtrace stopped" <<<"$out"; then
    echo "a backtrace did not end cleanly at the task's first frame"
    fail=1
fi
[ $fail -eq 0 ] && echo "gdb test: passed"
exit $fail
