#!/usr/bin/env bash
# model/check.sh: model-checks hop's wake-up protocols and the injection
# queue with Spin (see model/README.md). Each model is verified exhaustively
# and must show no error; each mutant (the same model with its fence or its
# re-check taken away) must show one, which proves the check has teeth.
# Fails on any error in a model, on a mutant that passes, and on a search
# that did not complete. Needs spin and a C compiler.
#   bash model/check.sh            every model and mutant
#   bash model/check.sh --trails   also print each mutant's counterexample
#   HOP_MODEL_DEFINES=-DJOBS=2 HOP_MODEL_CFLAGS=-O2 bash model/check.sh   a bigger pool model (minutes)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trails=0
[ "${1:-}" = "--trails" ] && trails=1
status=0
passed=0
failed=0

# verify MODEL [MUTANT]: prints the errors pan found (a number), or "incomplete".
verify() {
  local model=$1 mutant=${2:-} dir=$work/$1${2:+-$2}
  mkdir -p "$dir" && cp "$here"/*.pml "$dir/" && cd "$dir" || return 1
  spin ${mutant:+-D$mutant} ${HOP_MODEL_DEFINES:-} -a "$model.pml" >spin.log 2>&1 || { cat spin.log >&2; echo incomplete; return; }
  # Safety only (assertions, invalid end states); COLLAPSE keeps memory small.
  cc ${HOP_MODEL_CFLAGS:--O0} -DSAFETY -DCOLLAPSE -DMEMLIM=${HOP_MODEL_MEMLIM:-2048} -w -o pan pan.c || { echo incomplete; return; }
  ./pan -m1000000 >pan.log 2>&1
  if grep -qE "Search not completed|max search depth too small|reached -DMEMLIM" pan.log && ! grep -q "errors: [1-9]" pan.log; then
    echo incomplete
    return
  fi
  grep -oE "errors: [0-9]+" pan.log | head -n1 | awk '{print $2}'
}

# The models and, for each, its mutant.
for pair in "pool NO_FENCE" "pool NO_RECHECK" "pool_blocking NO_RESUME" "pool_blocking NO_GETUP" "pool_blocking NO_DEEP_COUNT" "loop NO_FENCE" "loop PUSH_BUFFERED" "inject_queue EXCHANGE" "blocking NO_BUMP" "blocking READ_UNLOCKED"; do
  set -- $pair
  model=$1 mutant=$2
  if [ ! -e "$work/$model.done" ]; then
    start=$SECONDS
    errors=$(verify "$model")
    touch "$work/$model.done"
    if [ "$errors" = 0 ]; then
      passed=$((passed + 1))
      echo "ok      $model: no error in $(grep -oE '[0-9]+ states, stored' "$work/$model/pan.log") ($((SECONDS - start)) s)"
    else
      failed=$((failed + 1))
      echo "FAILED  $model: $errors"; cat "$work/$model/pan.log"; status=1
      [ -f "$work/$model/$model.pml.trail" ] && (cd "$work/$model" && spin -t -p "$model.pml")
    fi
  fi
  errors=$(verify "$model" "$mutant")
  if [ "$errors" != incomplete ] && [ "${errors:-0}" -gt 0 ]; then
    passed=$((passed + 1))
    echo "ok      $model with $mutant: the counterexample was found, as expected"
    if [ $trails = 1 ]; then
      (cd "$work/$model-$mutant" && spin -D"$mutant" -t -p "$model.pml")
    fi
  else
    failed=$((failed + 1))
    echo "FAILED  $model with $mutant: expected a counterexample, got: $errors"; status=1
  fi
done
echo "$passed passed, $failed failed"
exit $status
