#!/bin/sh
# Zero-downtime deploy of one upstream behind Strata: drain it, wait until its
# last request has finished, swap or restart it, wait until it answers, put it
# back. Requests keep flowing to the other upstreams of its pool throughout.
#
#   ADMIN_URL=http://127.0.0.1:8081 STRATA_ADMIN_TOKEN=... \
#     config/deploy-drain.sh http://10.0.0.1:9000 /healthz systemctl restart app@1
#
# ADMIN_URL is deliberately outside STRATA_*: that namespace is the node's, and a
# node started where an unknown STRATA_* name is exported refuses to start.
# $1: the upstream URL as configured; $2: a path the new process answers 2xx on
# once it is up; the rest: the command that swaps or restarts it.
set -eu
ADMIN=${ADMIN_URL:-http://127.0.0.1:8081}
AUTH="Authorization: Bearer ${STRATA_ADMIN_TOKEN:?set STRATA_ADMIN_TOKEN}"
UPSTREAM=$1
HEALTH=$2
shift 2
BODY="{\"upstream\":\"$UPSTREAM\"}"

# 1. No new requests for this upstream; in-flight ones go on.
curl -fsS -X POST -H "$AUTH" -H 'content-type: application/json' -d "$BODY" "$ADMIN/upstreams/drain"
echo

# 2. Wait until its in-flight count is 0 ("state":"drained").
until curl -fsS "$ADMIN/upstreams/drain?upstream=$UPSTREAM" | grep -q '"state":"drained"'; do sleep 0.2; done
echo "drained: $UPSTREAM"

# 3. Swap / restart it.
"$@"

# 4. Wait until the new process answers, then put it back into rotation.
until curl -fsS -o /dev/null "$UPSTREAM$HEALTH"; do sleep 0.2; done
curl -fsS -X POST -H "$AUTH" -H 'content-type: application/json' -d "$BODY" "$ADMIN/upstreams/undrain"
echo
