#!/bin/sh
# What the compose file expects of the rabbitmq image's docker-entrypoint.sh: run the broker's
# command as the rabbitmq user (Debian's wrappers drop to it when started as root).
set -eu
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec "$@"
