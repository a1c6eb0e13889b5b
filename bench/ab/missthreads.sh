#!/bin/bash
# Kept in bench/ab/ so the per-thread miss figures in RESULTS.md can be measured again. Needs wrk, taskset, a built checkout (npx tsc -p .);
# PERF=1 also records `perf record -g` of Strata (read with perf report -i DIR/perf.data; pass --perf-basic-prof for JS names).
# CPU per never-asked URL, by thread (user and sys), and minor page faults: Strata (dist of $M, default this checkout) vs the bare proxy.
# usage: missthreads.sh SIZE SECONDS [extra node flags for strata]   (e.g. missthreads.sh 16384 6; M=/tmp/base for another checkout)
SIZE=$1; S=$2; shift 2; FLAGS="$@"
HOLD=$((86400 + $$))
D=$(mktemp -d /tmp/missp.XXXX)
M=${M:-$(cd "$(dirname "$0")/../.." && pwd)}
field() { grep -m1 '^{"port' $1 | sed -E "s/.*\"$2\":([0-9]+).*/\\1/"; }
waitf() { while ! grep -q '^{"port' $1 2>/dev/null; do sleep 0.1; done; }
(sleep $HOLD | taskset -c 1 node $M/dist/bench/load/bare-server.js $SIZE 0 > $D/origin.out) &
waitf $D/origin.out; OP=$(field $D/origin.out port)
(cd $D; sleep $HOLD | taskset -c 0 node $FLAGS $M/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral > $D/a.out 2>$D/a.err) &
(sleep $HOLD | taskset -c 0 node $M/dist/bench/load/bare-proxy.js http://127.0.0.1:$OP 0 > $D/bare.out) &
waitf $D/a.out; waitf $D/bare.out
AP=$(field $D/a.out port); XP=$(field $D/bare.out port); APID=$(field $D/a.out pid); XPID=$(field $D/bare.out pid)
flt() { awk "{print \$10}" /proc/$1/stat; }
threads() { for t in /proc/$1/task/*; do echo "$(basename $t) $(awk '{print $14"_"$15}' $t/stat)"; done | sort; }
run() { F0=$(flt $1); threads $1 > $D/t0; local out=$(PFX=/bench/miss-$SIZE/$3 taskset -c 1 wrk -t1 -c50 -d${S}s -s $(dirname $0)/unique-urls.lua http://127.0.0.1:$2 | grep -E 'Requests/sec|requests in|Latency'); threads $1 > $D/t1; F1=$(flt $1)
  local n=$(echo "$out" | grep 'requests in' | awk '{print $1}'); local rps=$(echo "$out" | grep Requests/sec | awk '{print $2}')
  echo "$3 rps $rps n $n minflt/req $(( (F1-F0)/n )) $(echo "$out" | grep Latency)"; join -a2 -e0_0 -o 0,1.2,2.2 $D/t0 $D/t1 | awk -v n=$n '{split($2,a,"_"); split($3,b,"_"); u=b[1]-a[1]; s=b[2]-a[2]; if (u+s>0) printf "   %-10s user %8.1f sys %8.1f us/req\n", $1, u*10000/n, s*10000/n; tu+=u; ts+=s} END{printf "   %-10s user %8.1f sys %8.1f us/req\n","TOTAL", tu*10000/n, ts*10000/n}'; }
if [ -n "$PERF" ]; then perf record -F 1999 -g -p $APID -o $D/perf.data 2>$D/perf.err & PP=$!; sleep 0.5; fi
run $APID $AP strata
if [ -n "$PERF" ]; then kill -INT $PP; wait $PP; fi
run $XPID $XP bare
if [ -n "$PERF" ]; then echo "dir: $D"; fi
kill $(pgrep -f "sleep $HOLD") 2>/dev/null; sleep 1
if [ -z "$PERF" ]; then rm -rf $D; fi
