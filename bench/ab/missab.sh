#!/bin/bash
# Kept in bench/ab/ so the A/B figures in RESULTS.md can be measured again. Needs wrk, taskset, bc, and both checkouts built (npx tsc -p .).
# CPU µs per never-asked URL: Strata from dist A vs dist B (and the bare pass-through proxy), alternating, same window, same origin.
# usage: missab.sh DIR_A DIR_B [size] [seconds] [rounds]
source "$(dirname "$0")/lib.sh"
A=$1; B=$2; SIZE=${3:-1024}; S=${4:-5}; R=${5:-3}
D=$(mktemp -d /tmp/missab.XXXX)
spawn 1 $D/origin.out node $A/dist/bench/load/bare-server.js $SIZE 0
waitf $D/origin.out; OP=$(field $D/origin.out port)
spawn 0 $D/a.out node $A/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral
spawn 0 $D/b.out node $B/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/cb --ephemeral
spawn 0 $D/bare.out node $A/dist/bench/load/bare-proxy.js http://127.0.0.1:$OP 0
waitf $D/a.out; waitf $D/b.out; waitf $D/bare.out
# Each run under a path prefix of its own: every request a URL never asked before.
one() { local f=$D/$1.out; PFX=/bench/miss-$SIZE/$2-$3 measure $(field $f pid) $2 $4 -s $AB_DIR/unique-urls.lua http://127.0.0.1:$(field $f port); }
for s in a:A b:B bare:bare; do one ${s%%:*} ${s##*:} warm 2 > /dev/null; done
for r in $(seq 1 $R); do for s in a:A b:B bare:bare; do one ${s%%:*} ${s##*:} $r $S; done; done
ab_stop $D
