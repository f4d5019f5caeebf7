#!/bin/sh
# Lookup-table benchmark: our postmap against Postfix's on the same
# machine, side by side in one run (issue 3, "Performance").
#
#   scripts/bench/maps.sh [LINES]        (default 1000000)
#
# Measures, for a LINES-line source file of address -> transport entries:
#   1. build:   postmap hash:FILE
#   2. lookup:  postmap -q KEY hash:FILE, 200 separate runs (process
#               start, open, one lookup)
#   3. bulk:    postmap -q - hash:FILE with 100000 keys on stdin (one
#               process, in-process lookups: half found, half not)
# and checks that both answer the same. Needs Postfix's postmap in
# /usr/sbin (Debian's postfix package). Not a test: it prints figures.
set -eu
cd "$(dirname "$0")/../.."
LINES=${1:-1000000}
PF=/usr/sbin/postmap
[ -x "$PF" ] || { echo "Postfix's postmap is not installed ($PF)" >&2; exit 1; }
cargo build --release -q -p postmap
OURS=$PWD/target/release/postmap
WORK=$(mktemp -d /tmp/maps-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/cf" "$WORK/pf" "$WORK/ours"
: > "$WORK/cf/main.cf"
python3 - "$WORK" "$LINES" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
with open(f"{work}/big", "w") as f:
    for i in range(n):
        f.write(f"user{i}@domain{i % 997}.example.com\tsmtp:[relay{i % 13}.example.net]:25\n")
keys = []
for _ in range(50000):
    i = random.randrange(n)
    keys.append(f"user{i}@domain{i % 997}.example.com")
    keys.append(f"nobody{random.randrange(n)}@domain{random.randrange(997)}.example.com")
with open(f"{work}/keys", "w") as f:
    f.write("\n".join(keys) + "\n")
PY
cp "$WORK/big" "$WORK/pf/big"
cp "$WORK/big" "$WORK/ours/big"
rm "$WORK/big"

now() { date +%s.%N; }
elapsed() { awk "BEGIN { print $2 - $1 }"; }

echo "source: $LINES lines; $(nproc) CPUs"
sync
for who in pf ours; do
    if [ $who = pf ]; then P=$PF; else P=$OURS; fi
    cd "$WORK/$who"
    t0=$(now); "$P" -c "$WORK/cf" hash:big; t1=$(now)
    build=$(elapsed "$t0" "$t1")
    key="user$((LINES / 2))@domain$(( (LINES / 2) % 997 )).example.com"
    t0=$(now)
    i=0
    while [ $i -lt 200 ]; do "$P" -c "$WORK/cf" -q "$key" hash:big > /dev/null; i=$((i + 1)); done
    t1=$(now)
    single=$(awk "BEGIN { print ($t1 - $t0) * 1000 / 200 }")
    "$P" -c "$WORK/cf" -q - hash:big < "$WORK/keys" > /dev/null  # warm
    t0=$(now); "$P" -c "$WORK/cf" -q - hash:big < "$WORK/keys" > "$WORK/$who.out"; t1=$(now)
    bulk=$(elapsed "$t0" "$t1")
    per=$(awk "BEGIN { print ($t1 - $t0) * 1000000 / 100000 }")
    size=$(stat -c %s big.db)
    name=$([ $who = pf ] && echo "Postfix 3.7 hash" || echo "ours (hash)")
    printf '%-18s build %6.2f s   -q (one run) %6.2f ms   -q - (100000 keys) %5.2f s = %5.2f us/lookup   file %d MB\n' \
        "$name" "$build" "$single" "$bulk" "$per" $((size / 1048576))
    cd - > /dev/null
done
if cmp -s "$WORK/pf.out" "$WORK/ours.out"; then
    echo "answers: identical ($(wc -l < "$WORK/ours.out") found)"
else
    echo "answers DIFFER" >&2
    exit 1
fi
