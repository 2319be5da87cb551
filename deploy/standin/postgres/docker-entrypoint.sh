#!/usr/bin/env bash
# The official postgres image's contract, as far as cinecluster's compose file uses it:
# POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres), POSTGRES_DB (default the user),
# POSTGRES_INITDB_ARGS; a cluster made in $PGDATA on the first start (scripts in
# /docker-entrypoint-initdb.d run then); listens on all addresses; password (scram-sha-256) for
# network clients, trust on the local socket; PostgreSQL runs as the user postgres, as PID 1.
set -euo pipefail

if [[ "${1:-}" != "postgres" ]]; then
    exec "$@"
fi

if [[ "$(id -u)" == 0 ]]; then
    install -d -o postgres -g postgres -m 700 "$PGDATA"
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
        echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of options, as in the official image
    initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
        ${POSTGRES_INITDB_ARGS:-}
    printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    # A socket-only server for the set-up, so nobody connects before it is complete.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [[ "$db" != postgres ]]; then
        psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres --set db="$db" \
            <<<'CREATE DATABASE :"db";'
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh) echo "running $script"; bash "$script" ;;
            *.sql) echo "running $script"; psql -v ON_ERROR_STOP=1 --username="$user" --dbname="$db" -f "$script" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
