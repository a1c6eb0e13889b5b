#!/bin/bash
# Kept in bench/ab/ so the per-request counts in RESULTS.md can be measured again. Needs wrk, taskset and a built checkout.
# What one request costs in counts that do not move with this VM's speed (CPU time does, by up to 2× between runs):
# JS heap allocated, surviving a scavenge and promoted (V8's --trace-gc-nvp, the main isolate's scavenges), the
# scavenges' pause and their helper threads' time, and promises created (bench/load/count-promises.ts). Strata (dist
# of $M, default this checkout) beside its baseline, each alone under the same load (wrk -c50 on CPU 1, server on CPU 0):
#   miss: never-asked URLs of SIZE bytes, beside the bare pass-through proxy;
#   hit:  one stored URL of SIZE bytes, beside the bare node:http server answering the same bytes.
# usage: counts.sh miss|hit [SIZE] [SECONDS]   (e.g. counts.sh miss 1024 5; M=/tmp/base for another checkout)
source "$(dirname "$0")/lib.sh"
KIND=$1; SIZE=${2:-1024}; S=${3:-5}
case $KIND in miss | hit) ;; *) echo "usage: counts.sh miss|hit [SIZE] [SECONDS]" >&2; exit 2 ;; esac
M=${M:-$(cd "$AB_DIR/../.." && pwd)}
D=$(mktemp -d /tmp/counts.XXXX)
spawn 1 $D/origin.out node $M/dist/bench/load/bare-server.js $SIZE 0
waitf $D/origin.out; OP=$(field $D/origin.out port)
FLAGS="--trace-gc-nvp --import $M/dist/bench/load/count-promises.js"
# Not spawn(): stderr is kept, the promise count is printed there.
(cd $D; sleep $HOLD | taskset -c 0 node $FLAGS $M/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral > $D/strata.out 2> $D/strata.err) &
if [ $KIND = miss ]; then BASE="bare-proxy.js http://127.0.0.1:$OP 0"; else BASE="bare-server.js $SIZE 0"; fi
(sleep $HOLD | taskset -c 0 node $FLAGS $M/dist/bench/load/$BASE > $D/bare.out 2> $D/bare.err) &
waitf $D/strata.out; waitf $D/bare.out
# load NAME PHASE SECONDS: wrk against NAME; misses under a path prefix of their own (every URL never asked before).
load() { ab_load $KIND $SIZE http://127.0.0.1:$(field $D/$1.out port) $1-$2 $3; }
one() {
  local f=$D/$1.out pid=$(field $D/$1.out pid)
  load $1 warm 3 > /dev/null
  local from=$(($(wc -l < $f) + 1))
  kill -USR2 $pid
  local n=$(load $1 run $S | awk '/requests in/ {print $1}')
  kill -USR2 $pid
  while ! grep -q '"promises"' $D/$1.err; do sleep 0.1; done
  local promises=$(grep -m1 '"promises"' $D/$1.err | sed -E 's/.*:([0-9]+).*/\1/')
  # The main isolate is the one with the most scavenges (the disk tier's threads have isolates of their own).
  tail -n +$from $f | grep 'gc=s ' > $D/$1.gc
  local main=$(awk '{print $1}' $D/$1.gc | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
  grep -F "$main" $D/$1.gc | awk -v n=$n -v p=$promises -v who=$1 -v kind=$KIND '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] += kv[2]}}
    END {printf "%-6s %7d requests  allocated %5.1f KiB  survived %5.2f KiB  promoted %5.2f KiB  scavenge %5.2f µs + helpers %5.2f µs  promises %5.1f  (per %s)\n",
      who, n, v["allocated"]/n/1024, v["new_space_survived"]/n/1024, v["promoted"]/n/1024, v["pause"]*1000/n, v["background.scavenge.parallel"]*1000/n, p/n, kind}'
}
# The first request of a hit run stores the URL (a miss among the many hits counted).
if [ $KIND = hit ]; then curl -s -o /dev/null http://127.0.0.1:$(field $D/strata.out port)/bench/hit-$SIZE; fi
one strata; one bare
ab_stop $D
