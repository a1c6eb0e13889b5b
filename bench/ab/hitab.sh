#!/bin/bash
# Kept in bench/ab/ so the A/B figures in RESULTS.md can be measured again. Needs wrk, taskset, bc, and both checkouts built (npx tsc -p .).
# CPU µs per 1 KiB hit: Strata from dist A vs dist B (and bare), alternating, same window.
# usage: hitab.sh DIR_A DIR_B [seconds] [rounds]
source "$(dirname "$0")/lib.sh"
A=$1; B=$2; S=${3:-5}; R=${4:-3}
D=$(mktemp -d /tmp/hitab.XXXX)
spawn 1 $D/origin.out node $A/dist/bench/load/bare-server.js 1024 0
waitf $D/origin.out; OP=$(field $D/origin.out port)
spawn 0 $D/a.out node $A/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral
spawn 0 $D/b.out node $B/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/cb --ephemeral
spawn 0 $D/bare.out node $A/dist/bench/load/bare-server.js 1024 0
waitf $D/a.out; waitf $D/b.out; waitf $D/bare.out
U=/bench/hit-1024
for s in a b; do curl -s -o /dev/null http://127.0.0.1:$(field $D/$s.out port)$U; curl -s -o /dev/null http://127.0.0.1:$(field $D/$s.out port)$U; done
for s in a b bare; do taskset -c 1 wrk -t1 -c50 -d2s http://127.0.0.1:$(field $D/$s.out port)$U >/dev/null; done
for r in $(seq 1 $R); do for s in a:A b:B bare:bare; do f=$D/${s%%:*}.out; measure $(field $f pid) ${s##*:} $S http://127.0.0.1:$(field $f port)$U; done; done
ab_stop $D
