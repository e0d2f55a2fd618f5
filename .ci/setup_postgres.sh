# Sourced by .ci/run: a PostgreSQL server on 127.0.0.1 for the `postgres` tests, from Debian packages.
# Idempotent: installs only when missing, reuses a running server, creates the test database once.
# Exports AAR_TEST_POSTGRES_URL.
AAR_PG_ROOT="${AAR_PG_ROOT:-/opt/aar/pg}"
AAR_PG_PORT="${AAR_PG_PORT:-55432}"
AAR_PG_DB="${AAR_PG_DB:-aar_test}"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi
aar_pg_bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")

# The server refuses to run as root: run it as the Debian `postgres` user when we are root.
aar_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [[ ! -f "$AAR_PG_ROOT/data/PG_VERSION" ]]; then
  mkdir -p "$AAR_PG_ROOT"
  [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$AAR_PG_ROOT"
  aar_pg "$aar_pg_bin/initdb" -D "$AAR_PG_ROOT/data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! aar_pg "$aar_pg_bin/pg_ctl" -D "$AAR_PG_ROOT/data" status >/dev/null 2>&1; then
  aar_pg "$aar_pg_bin/pg_ctl" -D "$AAR_PG_ROOT/data" -l "$AAR_PG_ROOT/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $AAR_PG_PORT -k /tmp -c max_connections=200 -c fsync=off" start >/dev/null
fi
if ! aar_pg "$aar_pg_bin/psql" -h 127.0.0.1 -p "$AAR_PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$AAR_PG_DB'" | grep -q 1; then
  aar_pg "$aar_pg_bin/createdb" -h 127.0.0.1 -p "$AAR_PG_PORT" -U postgres "$AAR_PG_DB"
fi
export AAR_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$AAR_PG_PORT/$AAR_PG_DB"
unset -f aar_pg
unset aar_pg_bin
