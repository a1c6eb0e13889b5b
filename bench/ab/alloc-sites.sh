#!/bin/bash
# Where a request's heap allocations come from, per request: a sampled heap profile of Strata (dist of $M, default
# this checkout) under the load counts.sh gives it (wrk -c50 on CPU 1, server on CPU 0), reported by function and
# by file (bench/load/alloc-report.ts). Counts.sh says how much; this says where. SURVIVORS=1 keeps only what a
# scavenge did not collect (what makes scavenges cost); SURVIVORS=2 only what is alive at the end. EXTRA: more arguments for Strata (e.g. "--disk-size 0").
#   miss: never-asked URLs of SIZE bytes;  hit: one stored URL of SIZE bytes;  diskhit: 1,000 URLs of SIZE bytes at
#   random (spread-urls.lua), from disk when EXTRA keeps them out of memory ("--memory-max-object 8KiB" for 16 KiB).
# usage: alloc-sites.sh miss|hit|diskhit [SIZE] [SECONDS] [TOP]   (e.g. alloc-sites.sh miss 1024 5 30)
source "$(dirname "$0")/lib.sh"
KIND=$1; SIZE=${2:-1024}; S=${3:-5}; TOP=${4:-30}
case $KIND in miss | hit | diskhit) ;; *) echo "usage: alloc-sites.sh miss|hit|diskhit [SIZE] [SECONDS] [TOP]" >&2; exit 2 ;; esac
M=${M:-$(cd "$AB_DIR/../.." && pwd)}
D=$(mktemp -d /tmp/alloc.XXXX)
spawn 1 $D/origin.out node $M/dist/bench/load/bare-server.js $SIZE 0
waitf $D/origin.out; OP=$(field $D/origin.out port)
(cd $D; sleep $HOLD | ALLOC_OUT=$D/profile ALLOC_SURVIVORS=${SURVIVORS:-0} taskset -c 0 node --import $M/dist/bench/load/sample-allocations.js \
  $M/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral $EXTRA > $D/strata.out 2> $D/strata.err) &
waitf $D/strata.out
URL=http://127.0.0.1:$(field $D/strata.out port); PID=$(field $D/strata.out pid)
load() { ab_load $KIND $SIZE $URL $1 $2; }
if [ $KIND = hit ]; then curl -s -o /dev/null $URL/bench/hit-$SIZE; fi
load warm 3 > /dev/null
kill -USR2 $PID
N=$(load run $S | awk '/requests in/ {print $1}')
kill -USR2 $PID
while [ ! -s $D/profile ]; do sleep 0.2; done; sleep 0.5
echo "$N requests ($KIND, $SIZE B, ${S} s${EXTRA:+, $EXTRA}${SURVIVORS:+, survivors only})"
node $M/dist/bench/load/alloc-report.js $D/profile $N $TOP
ab_stop $D
