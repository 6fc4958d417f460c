#!/usr/bin/env bash
# Send metric points to Pulse over HTTP: POST /api/v1/metrics on ingest, with an API key.
#
#   PULSE_API_KEY=pk_… ./send_http.sh
#
# Environment:
#   PULSE_API_KEY     required: an API key with the scope ingest:metrics (pk_…)
#   PULSE_INGEST_URL  ingest's base URL (default http://127.0.0.1:8001)
#   SOURCE, NAME      the series to write (default curl-example / room_temp)
#
# Needs bash, curl and od. Works with GNU date (Linux) and BSD date (macOS).
# See docs/producers.md for the protocol.
set -euo pipefail

: "${PULSE_API_KEY:?set PULSE_API_KEY to an API key with the ingest:metrics scope (pk_…)}"
URL="${PULSE_INGEST_URL:-http://127.0.0.1:8001}/api/v1/metrics"
SOURCE="${SOURCE:-curl-example}"
NAME="${NAME:-room_temp}"

# RFC 3339 in UTC for a Unix time in seconds (GNU date, then BSD date).
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ; }
# Random hex for a W3C trace context: log lines about this request carry its trace id.
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# POST a body; print the answer; fail unless ingest answered 202 (JetStream stored the points).
# --retry resends on a timeout, 408, 429, 500, 502, 503 or 504: safe, the same points are stored once.
post() {
  local content_type=$1 body=$2 answer status
  answer=$(curl -sS --max-time 15 --retry 3 -w '\n%{http_code}' "$URL" \
    -H "Authorization: Bearer $PULSE_API_KEY" \
    -H "Content-Type: $content_type" \
    -H "traceparent: 00-$(hex 16)-$(hex 8)-01" \
    --data-binary "$body")
  status=${answer##*$'\n'}
  echo "HTTP $status ${answer%$'\n'*}"
  [[ $status == 202 ]]
}

now=$(date -u +%s)

# 1. One point: a JSON object.
post application/json \
  '{"time": "'"$(iso "$now")"'", "source": "'"$SOURCE"'", "name": "'"$NAME"'", "value": 21.5, "unit": "celsius"}'

# 2. A batch: a JSON array, here the previous minute at 10 s steps (backfill is accepted).
#    Many points per request is what makes throughput; the whole array is accepted or refused.
batch=""
for i in 6 5 4 3 2 1; do
  batch+='{"time": "'"$(iso $(( now - 10 * i )))"'", "source": "'"$SOURCE"'", "name": "'"$NAME"'",'
  batch+=' "value": 20.'"$i"', "unit": "celsius", "tags": {"room": "kitchen"}},'
done
post application/json "[${batch%,}]"

echo "read them back: GET http://127.0.0.1:8000/api/v1/metrics?name=$NAME&source=$SOURCE&from=$(iso $(( now - 120 )))"
