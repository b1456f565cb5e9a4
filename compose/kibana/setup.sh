#!/bin/sh
# One-shot (compose's kibana-setup, in the Kibana image): the platform's data view, logs-platform.*
# (every service's data stream, as Logstash routes them), made Kibana's default, with trace.id
# shown as a link to the trace in Jaeger's UI at JAEGER_URL (the address a browser opens).
# Run again, it overwrites the view with the same one.
set -eu
: "${KIBANA_URL:?}" "${JAEGER_URL:?}"
here=$(dirname "$0")
body=$(sed "s|@JAEGER_URL@|${JAEGER_URL%/}|g" "$here/data-view.json")
post() {
  curl -fsS --retry 10 --retry-delay 3 -X POST "${KIBANA_URL%/}$1" \
    -H 'kbn-xsrf: true' -H 'Content-Type: application/json' --data "$2" >/dev/null
}
post /api/data_views/data_view "$body"
post /api/data_views/default '{"data_view_id": "platform-logs", "force": true}'
echo "kibana-setup: data view platform-logs (logs-platform.*), trace.id links to ${JAEGER_URL%/}"
