#!/usr/bin/env bash
# Put a backup made by sqlite-backup.sh back in place of the service's SQLite database.
#
#  1. checks the backup (PRAGMA integrity_check) on a copy next to the database;
#  2. stops the units that write to the database (those that were running are started again);
#  3. moves the current database and its -wal/-shm files aside (*.before-restore-TIME):
#     a stale -wal file left next to the restored database would be replayed into it and
#     corrupt it, so none may stay;
#  4. moves the checked copy into place, owned like the database folder, and starts the units.
#
# Run as root (to stop and start the units and set the owner), or with SERVICES= as the
# database folder's owner after stopping everything that uses the database yourself.
# If the backup is older than the installed code, restore with START=no, run
# `moderation db upgrade`, then start the units.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: sqlite-restore.sh BACKUP_FILE DB_FILE

  BACKUP_FILE  a copy made by sqlite-backup.sh
  DB_FILE      the service's database, e.g. /var/lib/moderation/moderation.db

Environment:
  SERVICES  units to stop during the restore (default: moderation.service
            moderation-webhooks.service moderation-purge.timer moderation-purge.service);
            empty: stop nothing (you did)
  START     no: leave the units stopped afterwards (default: yes)
  PYTHON    runs the integrity check (default python3)
example: sudo deploy/backup/sqlite-restore.sh /var/backups/moderation/moderation-2025-01-31-0300.db \
             /var/lib/moderation/moderation.db
EOF
    exit 2
}

[ "$#" -eq 2 ] || usage
case "$1" in -h|--help) usage ;; esac
backup=$1
db=$2
services=${SERVICES-moderation.service moderation-webhooks.service moderation-purge.timer moderation-purge.service}
start=${START:-yes}
python=${PYTHON:-python3}

[ -f "$backup" ] || { echo "sqlite-restore: no backup file at $backup" >&2; exit 1; }
dir=$(dirname "$db")
[ -d "$dir" ] || { echo "sqlite-restore: no folder $dir" >&2; exit 1; }
owner=$(stat -c %u:%g "$dir")

umask 077
tmp="$dir/.restore.$$.db"
trap 'rm -f "$tmp"' EXIT
cp -- "$backup" "$tmp"
"$python" - "$tmp" <<'EOF'
import sqlite3
import sys

try:
    connection = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    has_comments = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'comments'"
    ).fetchone()[0]
    count = connection.execute("SELECT count(*) FROM comments").fetchone()[0] if has_comments else 0
    connection.close()
except sqlite3.DatabaseError as exc:
    sys.exit(f"sqlite-restore: the backup cannot be read: {exc}")
if result != ["ok"] or not has_comments:
    sys.exit("sqlite-restore: the backup is damaged or not a moderation database: "
             + "; ".join(result[:10]))
print(f"sqlite-restore: backup checked (integrity_check: ok, comments: {count})")
EOF
if [ "$(id -u)" -eq 0 ]; then
    chown "$owner" "$tmp"
fi

stopped=()
if [ -n "$services" ]; then
    for unit in $services; do
        if systemctl is-active --quiet "$unit"; then
            stopped+=("$unit")
        fi
    done
    if [ "${#stopped[@]}" -gt 0 ]; then
        echo "sqlite-restore: stopping ${stopped[*]}"
        systemctl stop "${stopped[@]}"
    fi
else
    echo "sqlite-restore: SERVICES is empty: nothing stopped (nothing may use $db now)"
fi

stamp=$(date +%Y%m%d-%H%M%S)
for file in "$db" "$db-wal" "$db-shm"; do
    if [ -e "$file" ]; then
        mv -- "$file" "$file.before-restore-$stamp"
        echo "sqlite-restore: moved aside $file -> $file.before-restore-$stamp"
    fi
done
mv -- "$tmp" "$db"
trap - EXIT
sync "$db" "$dir"
echo "sqlite-restore: restored $backup -> $db"

if [ "${#stopped[@]}" -gt 0 ]; then
    if [ "$start" = "yes" ]; then
        echo "sqlite-restore: starting ${stopped[*]}"
        systemctl start "${stopped[@]}"
    else
        echo "sqlite-restore: START=no: start them yourself: systemctl start ${stopped[*]}"
    fi
fi
