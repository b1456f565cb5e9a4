#!/bin/sh
# Renders RabbitMQ's definitions (users, permissions, topic permissions, queues) with each user's
# password taken from the environment: the committed definitions.json names them as ${NAME}.
# Passwords also go into AMQP URLs, so they are limited to URL-safe characters (e.g. the output
# of `openssl rand -hex 24`). Run by the rabbitmq service before the broker starts:
#   render-definitions.sh [template] [output]
set -eu
template=${1:-/etc/rabbitmq/platform/definitions.json}
output=${2:-/tmp/rabbitmq-definitions.json}
script=""
for name in $(grep -o '\${[A-Z0-9_]*}' "$template" | tr -d '${}' | sort -u); do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "render-definitions: $name is not set" >&2
    exit 1
  fi
  case "$value" in
    *[!A-Za-z0-9._~-]*)
      echo "render-definitions: $name may hold only letters, digits and . _ ~ -" >&2
      exit 1
      ;;
  esac
  script="$script s|\${$name}|$value|g;"
done
umask 077
sed "$script" "$template" > "$output.tmp"
if [ "$(id -u)" = 0 ]; then
  chown rabbitmq:rabbitmq "$output.tmp"  # the broker drops to this user
fi
mv "$output.tmp" "$output"
