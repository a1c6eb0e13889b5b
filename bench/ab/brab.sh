#!/bin/bash
# Kept in bench/ab/ so the A/B figures in RESULTS.md can be measured again. Needs wrk, taskset, bc, and both checkouts built (npx tsc -p .).
# CPU µs per stored-br hit: Strata from dist A vs dist B vs bare precompressed, alternating.
HOLD=$((86400 + $$))  # a sleep of its own keeps the children's stdin open; ended last
A=$1; B=$2; S=${3:-5}; R=${4:-3}
D=$(mktemp -d /tmp/brab.XXXX)
port() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).port)' $1; }
pid() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).pid)' $1; }
waitf() { while ! [ -s $1 ]; do sleep 0.1; done; }
(sleep $HOLD | taskset -c 1 node $A/dist/bench/load/corpus-server.js 0 > $D/origin.out) &
waitf $D/origin.out; OP=$(port $D/origin.out)
(sleep $HOLD | taskset -c 0 node $A/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/ca --ephemeral > $D/a.out 2>/dev/null) &
(sleep $HOLD | taskset -c 0 node $B/dist/bench/load/strata-server.js --origin http://127.0.0.1:$OP --cache-dir $D/cb --ephemeral > $D/b.out 2>/dev/null) &
(sleep $HOLD | taskset -c 0 node $A/dist/bench/load/precompressed-server.js html 102400 0 > $D/bare.out) &
waitf $D/a.out; waitf $D/b.out; waitf $D/bare.out
AP=$(port $D/a.out); BP=$(port $D/b.out); XP=$(port $D/bare.out); APID=$(pid $D/a.out); BPID=$(pid $D/b.out); XPID=$(pid $D/bare.out)
U=/html/102400
WANT=$(curl -s -o /dev/null -w '%{size_download}' -H 'accept-encoding: br' http://127.0.0.1:$XP$U)
for p in $AP $BP; do curl -s -o /dev/null -H 'accept-encoding: br' http://127.0.0.1:$p$U; for i in $(seq 1 100); do got=$(curl -s -o /dev/null -w '%{size_download}' -H 'accept-encoding: br' http://127.0.0.1:$p$U); [ "$got" = "$WANT" ] && break; sleep 0.2; done; echo "port $p bytes $got want $WANT"; done
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
run() { local t0=$(ticks $1); local out=$(taskset -c 1 wrk -t1 -c50 -d${S}s -H 'accept-encoding: br' http://127.0.0.1:$2$U | grep -E 'Requests/sec|requests in'); local t1=$(ticks $1)
  local n=$(echo "$out" | grep 'requests in' | awk '{print $1}'); local rps=$(echo "$out" | grep Requests/sec | awk '{print $2}')
  echo "$3 rps $rps cpu/req $(echo "scale=2; ($t1-$t0)*10000/$n" | bc) us"; }
for p in $AP $BP $XP; do taskset -c 1 wrk -t1 -c50 -d2s -H 'accept-encoding: br' http://127.0.0.1:$p$U >/dev/null; done
for r in $(seq 1 $R); do run $APID $AP A; run $BPID $BP B; run $XPID $XP bare; done
pkill -f "sleep $HOLD"
sleep 1; rm -rf $D
