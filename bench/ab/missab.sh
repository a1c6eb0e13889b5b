#!/bin/bash
# Kept in bench/ab/ so the A/B figures in RESULTS.md can be measured again. Needs wrk, taskset, bc, and both checkouts built (npx tsc -p .).
# CPU µs per never-asked URL: Strata from dist A vs dist B (and the bare pass-through proxy), alternating, same window, same origin.
# usage: missab.sh DIR_A DIR_B [size] [seconds] [rounds]
HOLD=$((86400 + $$))
A=$1; B=$2; SIZE=${3:-1024}; S=${4:-5}; R=${5:-3}
D=$(mktemp -d /tmp/missab.XXXX)
field() { grep -m1 '^{"port' $1 | sed -E "s/.*\"$2\":([0-9]+).*/\\1/"; }
waitf() { while ! grep -q '^{"port' $1 2>/dev/null; do sleep 0.1; done; }
(sleep $HOLD | taskset -c 1 node $A/dist/bench/load/bare-server.js $SIZE 0 > $D/origin.out) &
waitf $D/origin.out; OP=$(field $D/origin.out port)
(sleep $HOLD | taskset -c 0 node $A/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral > $D/a.out 2>/dev/null) &
(sleep $HOLD | taskset -c 0 node $B/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/cb --ephemeral > $D/b.out 2>/dev/null) &
(sleep $HOLD | taskset -c 0 node $A/dist/bench/load/bare-proxy.js http://127.0.0.1:$OP 0 > $D/bare.out) &
waitf $D/a.out; waitf $D/b.out; waitf $D/bare.out
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
run() { local t0=$(ticks $1); local out=$(PFX=/bench/miss-$SIZE/$3-$4 taskset -c 1 wrk -t1 -c50 -d$5s -s $(dirname $0)/unique-urls.lua http://127.0.0.1:$2 | grep -E 'Requests/sec|requests in'); local t1=$(ticks $1)
  local n=$(echo "$out" | grep 'requests in' | awk '{print $1}'); local rps=$(echo "$out" | grep Requests/sec | awk '{print $2}')
  echo "$3 rps $rps cpu/req $(echo "scale=1; ($t1-$t0)*10000/$n" | bc) us"; }
sides="$(field $D/a.out pid):$(field $D/a.out port):A $(field $D/b.out pid):$(field $D/b.out port):B $(field $D/bare.out pid):$(field $D/bare.out port):bare"
for s in $sides; do IFS=: read p port name <<< "$s"; run $p $port $name warm 2 > /dev/null; done
for r in $(seq 1 $R); do for s in $sides; do IFS=: read p port name <<< "$s"; run $p $port $name $r $S; done; done
kill $(pgrep -f "sleep $HOLD") 2>/dev/null; sleep 1; rm -rf $D
