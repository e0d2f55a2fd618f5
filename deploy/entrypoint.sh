#!/bin/sh
# The deploy image's entrypoint (compose.yaml). `db` runs PostgreSQL; anything else is run as given, as the
# unprivileged `aar` user. Started as root (the worker), it first readies /proc for bubblewrap and then
# drops every capability for good before running the command.
set -eu

PGBIN=/usr/lib/postgresql/15/bin
PGDATA="${PGDATA:-/var/lib/postgresql/data}"

die() { echo "aar-entrypoint: $*" >&2; exit 2; }

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

db_password() {
  if [ -n "${AAR_DB_PASSWORD_FILE:-}" ]; then cat "$AAR_DB_PASSWORD_FILE"; else printf %s "${AAR_DB_PASSWORD:-}"; fi
}

# PostgreSQL 15 from Debian: a cluster made on first start (role and database `aar`, the password from
# AAR_DB_PASSWORD or the secret file AAR_DB_PASSWORD_FILE; no default), scram-sha-256 over the network.
run_db() {
  [ "$(id -u)" = 0 ] || die "the db service starts as root (it drops to postgres)"
  password="$(db_password)"
  [ -n "$password" ] || die "set AAR_DB_PASSWORD (or AAR_DB_PASSWORD_FILE): the database has no default password"
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    quoted="$(printf %s "$password" | sed "s/'/''/g")"
    printf "CREATE ROLE aar LOGIN PASSWORD '%s';\nCREATE DATABASE aar OWNER aar;\n" "$quoted" |
      as_postgres "$PGBIN/postgres" --single -D "$PGDATA" postgres >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses='*'
}

# bubblewrap mounts a fresh /proc for each job; the kernel refuses that while Docker's masks (read-only
# /proc/sys, /proc/kcore hidden, ...) cover the container's /proc. Needs CAP_SYS_ADMIN (compose gives it
# to the worker only); the command itself then runs with no capability at all.
ready_bwrap() {
  awk '$2 ~ "^/proc/" {print $2}' /proc/self/mounts | sort -r | while read -r point; do
    umount "$point" 2>/dev/null || umount -l "$point" 2>/dev/null || echo "aar-entrypoint: could not unmount $point" >&2
  done
}

as_aar() {
  exec setpriv --reuid=aar --regid=aar --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
}

case "${1:-}" in
  db) run_db ;;
  "") die "no command" ;;
esac
if [ "$(id -u)" = 0 ]; then
  [ "${AAR_SANDBOX:-}" = bwrap ] && ready_bwrap
  # Ray's nodes stay root: bwrap then runs each job as uid 65534 in a size-capped /out, and its process
  # limit does not count Ray's own threads (it would as uid 10001, README "Team deployment").
  [ "${AAR_STAY_ROOT:-}" = 1 ] && exec "$@"
  as_aar "$@"
fi
exec "$@"
