#!/usr/bin/env bash
# Backup of the service's PostgreSQL database with pg_dump's custom format (-Fc: compressed,
# restorable table by table with pg_restore). pg_dump reads one consistent snapshot and does
# not block the service. The archive's table of contents is read back (pg_restore --list)
# before it replaces BACKUP_FILE.
#
# pg_dump must be at least as new as the server. A password goes in ~/.pgpass or PGPASSWORD,
# or stays in the URL (then keep this command line out of shared shells' history).
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: postgres-backup.sh DATABASE_URL BACKUP_FILE

  DATABASE_URL  the service's MODERATION_DATABASE_URL (postgresql+psycopg://user@host:5432/db;
                the "+psycopg" is dropped for pg_dump) or any libpq connection string
  BACKUP_FILE   where to write the archive, e.g. /var/backups/moderation/moderation-$(date +%F-%H%M).dump

example: deploy/backup/postgres-backup.sh "$MODERATION_DATABASE_URL" \
             /var/backups/moderation/moderation-$(date +%F-%H%M).dump
EOF
    exit 2
}

[ "$#" -eq 2 ] || usage
case "$1" in -h|--help) usage ;; esac
url=${1/postgresql+psycopg:\/\//postgresql://}
backup=$2
[ -d "$(dirname "$backup")" ] || { echo "postgres-backup: no folder $(dirname "$backup")" >&2; exit 1; }

# The archive holds personal data (emails, IP addresses): readable by its owner only.
umask 077
tmp="$backup.partial.$$"
trap 'rm -f "$tmp"' EXIT

pg_dump --format=custom --dbname="$url" --file="$tmp"
# A truncated or foreign file fails here, not on the day it is needed.
toc=$(pg_restore --list "$tmp")
tables=$(grep -c ' TABLE DATA ' <<<"$toc" || true)
grep -q ' TABLE DATA public comments ' <<<"$toc" || {
    echo "postgres-backup: the archive has no comments table: wrong database?" >&2
    exit 1
}

mv -f "$tmp" "$backup"
trap - EXIT
sync "$backup" "$(dirname "$backup")"
echo "postgres-backup: $(stat -c %s "$backup") bytes, $tables tables -> $backup"
