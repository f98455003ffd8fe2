#!/bin/sh
# tests/contract_coverage.sh ROOT: every public function declared in
# ROOT/include/hop/*.h (each HOP_EXTERN declaration) must have a row in the
# bad-input table of ROOT/tests/test_contract.c, or an entry in its `exempt`
# list with a reason: a row's or an entry's function is the string literal
# "hop_name" that opens it. A new public function without one fails here.
root=${1:-$(dirname "$0")/..}
table=$root/tests/test_contract.c
[ -f "$table" ] || { echo "no $table"; exit 2; }

# The declarations may span lines: join each from HOP_EXTERN to its '('.
functions=$(cat "$root"/include/hop/*.h |
  awk '/^HOP_EXTERN/ { d = $0; while (d !~ /\(/ && (getline l) > 0) d = d " " l; print d }' |
  sed -E 's/\(.*//; s/.*[ *]//' | sort -u)
[ -n "$functions" ] || { echo "no HOP_EXTERN declaration found under $root/include/hop"; exit 2; }

missing=0 total=0
for f in $functions; do
  total=$((total + 1))
  if ! grep -q "{BAD_[A-Z]*, \"$f\"\|{\"$f\"," "$table"; then
    echo "no bad-input row (or exemption) for $f in tests/test_contract.c"
    missing=$((missing + 1))
  fi
done
rows=$(grep -c '^ *{BAD_[A-Z]*, "hop_' "$table")
echo "$total public functions, $rows bad-input rows, $missing without a row"
[ "$missing" -eq 0 ]
