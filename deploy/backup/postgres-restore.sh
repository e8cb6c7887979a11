#!/usr/bin/env bash
# Restore a postgres-backup.sh archive into the service's PostgreSQL database.
#
# Default: pg_restore --clean --if-exists in ONE transaction: every table of the archive is
# dropped and recreated with its rows, or (on any error) nothing changes. Tables that the
# archive lacks would survive that, so the script refuses when the database has any
# (e.g. from a newer migration): use --recreate then.
# --recreate: drop the database, create it again (owned by the connecting role, which needs
# CREATEDB) and restore into the empty database.
#
# Connect as the role the service uses (the owner of its tables): objects are restored owned
# by the connecting role (--no-owner). Every host's service must be stopped: the script stops
# the units on this host (SERVICES) and refuses while other sessions use the database.
# If the archive is older than the installed code, restore with START=no, run
# `moderation db upgrade`, then start the units.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: postgres-restore.sh [--recreate] BACKUP_FILE DATABASE_URL

  BACKUP_FILE   an archive made by postgres-backup.sh (pg_dump -Fc)
  DATABASE_URL  the service's MODERATION_DATABASE_URL (postgresql+psycopg://user@host:5432/db)
  --recreate    drop and create the database first (needs CREATEDB; no other sessions)

Environment:
  SERVICES  units to stop on this host during the restore (default: moderation.service
            moderation-webhooks.service moderation-purge.timer moderation-purge.service);
            empty: stop nothing (you did, on every host)
  START     no: leave the units stopped afterwards (default: yes)
  FORCE     yes: restore even while other sessions are connected to the database
example: sudo deploy/backup/postgres-restore.sh /var/backups/moderation/moderation-2025-01-31-0300.dump \
             "$MODERATION_DATABASE_URL"
EOF
    exit 2
}

recreate=no
if [ "${1:-}" = "--recreate" ]; then
    recreate=yes
    shift
fi
[ "$#" -eq 2 ] || usage
case "$1" in -h|--help|-*) usage ;; esac
backup=$1
url=${2/postgresql+psycopg:\/\//postgresql://}
services=${SERVICES-moderation.service moderation-webhooks.service moderation-purge.timer moderation-purge.service}
start=${START:-yes}
force=${FORCE:-no}

[ -f "$backup" ] || { echo "postgres-restore: no backup file at $backup" >&2; exit 1; }
toc=$(pg_restore --list "$backup") || { echo "postgres-restore: $backup is not a pg_dump archive" >&2; exit 1; }
grep -q ' TABLE DATA public comments ' <<<"$toc" || {
    echo "postgres-restore: $backup has no comments table: not a moderation backup?" >&2
    exit 1
}

psql_q() { psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 "$@"; }

# The database's name, and a URL of the same server's maintenance database "postgres".
dbname=$(psql_q --dbname="$url" --command='SELECT current_database()')
maintenance=$(python3 - "$url" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
print(urlunsplit(parts._replace(path="/postgres")))
EOF
)

stopped=()
if [ -n "$services" ]; then
    for unit in $services; do
        if systemctl is-active --quiet "$unit"; then
            stopped+=("$unit")
        fi
    done
    if [ "${#stopped[@]}" -gt 0 ]; then
        echo "postgres-restore: stopping ${stopped[*]}"
        systemctl stop "${stopped[@]}"
    fi
else
    echo "postgres-restore: SERVICES is empty: nothing stopped here"
fi
restart() {
    if [ "${#stopped[@]}" -gt 0 ]; then
        if [ "$start" = "yes" ]; then
            echo "postgres-restore: starting ${stopped[*]}"
            systemctl start "${stopped[@]}"
        else
            echo "postgres-restore: START=no: start them yourself: systemctl start ${stopped[*]}"
        fi
    fi
}

others=$(psql_q --dbname="$url" --command="SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()")
if [ "$others" != "0" ] && [ "$force" != "yes" ]; then
    echo "postgres-restore: $others other session(s) use $dbname (the service on another host?);" \
         "stop them, or FORCE=yes" >&2
    psql_q --dbname="$url" --field-separator=' ' --command="SELECT pid, usename, application_name,
        client_addr FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()" >&2 || true
    restart
    exit 1
fi

if [ "$recreate" = "yes" ]; then
    echo "postgres-restore: dropping and creating database $dbname"
    dropdb --maintenance-db="$maintenance" -- "$dbname"
    createdb --maintenance-db="$maintenance" -- "$dbname"
    pg_restore --no-owner --exit-on-error --single-transaction --dbname="$url" "$backup"
else
    archived=$(awk '$4 == "TABLE" && $5 == "public" { print $6 }' <<<"$toc" | sort -u)
    present=$(psql_q --dbname="$url" --command="SELECT tablename FROM pg_tables
        WHERE schemaname = 'public'" | sort -u)
    extra=$(comm -13 <(printf '%s\n' "$archived") <(printf '%s\n' "$present") | grep -v '^$' || true)
    if [ -n "$extra" ]; then
        echo "postgres-restore: $dbname has tables the archive lacks (they would survive):" \
             "$(tr '\n' ' ' <<<"$extra")- use --recreate" >&2
        restart
        exit 1
    fi
    pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction \
        --dbname="$url" "$backup"
fi

comments=$(psql_q --dbname="$url" --command='SELECT count(*) FROM comments')
revision=$(psql_q --dbname="$url" --command='SELECT version_num FROM alembic_version')
echo "postgres-restore: restored $backup into $dbname (comments: $comments, migration: $revision)"
restart
