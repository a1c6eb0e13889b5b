#!/bin/bash
# Kept in bench/ab/ so the A/B figures in RESULTS.md can be measured again. Needs wrk, taskset, bc, and both checkouts built (npx tsc -p .).
# CPU µs per stored-br hit: Strata from dist A vs dist B vs bare precompressed, alternating.
# usage: brab.sh DIR_A DIR_B [seconds] [rounds]
source "$(dirname "$0")/lib.sh"
A=$1; B=$2; S=${3:-5}; R=${4:-3}
D=$(mktemp -d /tmp/brab.XXXX)
spawn 1 $D/origin.out node $A/dist/bench/load/corpus-server.js 0
waitf $D/origin.out; OP=$(field $D/origin.out port)
spawn 0 $D/a.out node $A/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral
spawn 0 $D/b.out node $B/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/cb --ephemeral
spawn 0 $D/bare.out node $A/dist/bench/load/precompressed-server.js html 102400 0
waitf $D/a.out; waitf $D/b.out; waitf $D/bare.out
U=/html/102400
WANT=$(curl -s -o /dev/null -w '%{size_download}' -H 'accept-encoding: br' http://127.0.0.1:$(field $D/bare.out port)$U)
# Asked until the stored variant is the best-level one (the bare server's bytes).
for s in a b; do p=$(field $D/$s.out port); curl -s -o /dev/null -H 'accept-encoding: br' http://127.0.0.1:$p$U; for i in $(seq 1 100); do got=$(curl -s -o /dev/null -w '%{size_download}' -H 'accept-encoding: br' http://127.0.0.1:$p$U); [ "$got" = "$WANT" ] && break; sleep 0.2; done; echo "port $p bytes $got want $WANT"; done
for s in a b bare; do taskset -c 1 wrk -t1 -c50 -d2s -H 'accept-encoding: br' http://127.0.0.1:$(field $D/$s.out port)$U >/dev/null; done
for r in $(seq 1 $R); do for s in a:A b:B bare:bare; do f=$D/${s%%:*}.out; measure $(field $f pid) ${s##*:} $S -H 'accept-encoding: br' http://127.0.0.1:$(field $f port)$U; done; done
ab_stop $D
