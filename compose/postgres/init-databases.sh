#!/bin/sh
# One database and one owner role per service, each role with its own password (from the
# environment: <SERVICE>_DB_PASSWORD). Run once by the postgres image on an empty data volume
# (/docker-entrypoint-initdb.d); later password changes: ALTER ROLE ... PASSWORD.
# No role may connect to another service's database: CONNECT is taken from PUBLIC.
set -eu
for service in gateway auth user product inventory order payment; do
  variable="$(echo "$service" | tr 'a-z' 'A-Z')_DB_PASSWORD"
  eval "password=\${$variable:-}"
  if [ -z "$password" ]; then
    echo "init-databases: $variable is not set" >&2
    exit 1
  fi
  # psql variables quote the name and the password (:"name", :'password').
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v name="$service" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
