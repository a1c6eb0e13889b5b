# Shared by the A/B scripts of bench/ab/ (sourced): starting children, reading what they print, and one
# measurement of CPU µs per request. Needs wrk, taskset, bc.
HOLD=$((86400 + $$))  # a sleep of its own keeps the children's stdin open; ended by ab_stop
AB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# A field of the first {"port":…} line a child printed.
field() { grep -m1 '^{"port' $1 | sed -E "s/.*\"$2\":([0-9]+).*/\\1/"; }
# Wait until the child writing to $1 printed its {"port":…} line.
waitf() { while ! grep -q '^{"port' $1 2>/dev/null; do sleep 0.1; done; }
# Start a child on CPU $1, its output to $2, kept alive by the held stdin: spawn CPU OUT node args...
spawn() { local cpu=$1 out=$2; shift 2; (sleep $HOLD | taskset -c $cpu "$@" > $out 2>/dev/null) & }
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
# measure PID LABEL SECONDS wrk-args...: requests/s and CPU µs per request of PID, wrk pinned to CPU 1.
measure() { local p=$1 label=$2 s=$3; shift 3; local t0=$(ticks $p)
  local out=$(taskset -c 1 wrk -t1 -c50 -d${s}s "$@" | grep -E 'Requests/sec|requests in'); local t1=$(ticks $p)
  local n=$(echo "$out" | grep 'requests in' | awk '{print $1}'); local rps=$(echo "$out" | grep Requests/sec | awk '{print $2}')
  echo "$label rps $rps cpu/req $(echo "scale=2; ($t1-$t0)*10000/$n" | bc) us"; }
ab_stop() { pkill -f "sleep $HOLD"; sleep 1; rm -rf "$1"; }
# ab_load KIND SIZE URL TAG SECONDS: wrk -c50 on CPU 1 against the server at URL. miss: never-asked URLs of SIZE bytes
# (under a path prefix of TAG's own); hit: one stored URL; diskhit: 1,000 stored URLs at random (spread-urls.lua).
ab_load() {
  local kind=$1 size=$2 url=$3 tag=$4 s=$5
  if [ $kind = miss ]; then PFX=/bench/miss-$size/$tag taskset -c 1 wrk -t1 -c50 -d${s}s -s $AB_DIR/unique-urls.lua $url
  elif [ $kind = diskhit ]; then PFX=/bench/hit-$size/ taskset -c 1 wrk -t1 -c50 -d${s}s -s $AB_DIR/spread-urls.lua $url
  else taskset -c 1 wrk -t1 -c50 -d${s}s $url/bench/hit-$size; fi
}
