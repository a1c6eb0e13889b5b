#!/bin/bash
# Kept in bench/ab/ so the lean-cache figures in RESULTS.md can be measured again. Needs wrk, taskset, bc and a built checkout.
# CPU µs per never-asked URL, alternating rounds in one window, all on CPU 0 (wrk on CPU 1): Strata (dist of $M, default
# this checkout), the lean cache with its write-behind (bench/load/lean-cache.ts), the lean cache without it, and the
# bare pass-through proxy. The lean cache is a yardstick of what a miss needs at least, not a target's baseline.
# usage: leanab.sh [SIZE] [SECONDS] [ROUNDS]
source "$(dirname "$0")/lib.sh"
SIZE=${1:-1024}; S=${2:-4}; R=${3:-4}
M=${M:-$(cd "$AB_DIR/../.." && pwd)}
D=$(mktemp -d /tmp/leanab.XXXX)
spawn 1 $D/origin.out node $M/dist/bench/load/bare-server.js $SIZE 0
waitf $D/origin.out; O=http://127.0.0.1:$(field $D/origin.out port)
spawn 0 $D/strata.out node $M/dist/bench/load/strata-server.js --origin $O --cache-dir $D/ca --ephemeral
spawn 0 $D/lean.out env LEAN_DIR=$D node $M/dist/bench/load/lean-cache.js $O
spawn 0 $D/leanmem.out env LEAN_DISK=0 node $M/dist/bench/load/lean-cache.js $O
spawn 0 $D/bare.out node $M/dist/bench/load/bare-proxy.js $O 0
L="strata lean leanmem bare"
for l in $L; do waitf $D/$l.out; done
one() { local f=$D/$1.out; PFX=/bench/miss-$SIZE/$1-$2 measure $(field $f pid) $1 $3 -s $AB_DIR/unique-urls.lua http://127.0.0.1:$(field $f port); }
for l in $L; do one $l warm 2 > /dev/null; done
for r in $(seq 1 $R); do for l in $L; do one $l $r $S; done; done | tee $D/res
echo "mean CPU per miss (µs) and requests/s:"
for l in $L; do grep "^$l " $D/res | awk -v l=$l '{c += $5; r += $3; n++} END {printf "  %-8s %7.1f µs  %7.0f/s\n", l, c / n, r / n}'; done
ab_stop $D
