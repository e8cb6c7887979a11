#!/usr/bin/env bash
# Online backup of the service's SQLite database, safe while gunicorn writes to it.
#
# Uses SQLite's backup API (Python's sqlite3 module) in a single step: one read transaction
# copies a consistent snapshot, including what is still in the -wal file, without blocking
# writers (WAL mode) and without restarting when they commit. Copying the .db file with cp
# is NOT a backup: it misses the -wal file and can catch a half-written page.
# The copy is checked with PRAGMA integrity_check before it replaces BACKUP_FILE.
#
# Run it as the database file's owner (sudo -u moderation ...): a connection opened by
# another user (root) can leave -wal/-shm files the service can no longer open.
set -euo pipefail

usage() {
    cat >&2 <<'EOF'
usage: sqlite-backup.sh DB_FILE BACKUP_FILE

  DB_FILE      the live database, e.g. /var/lib/moderation/moderation.db
  BACKUP_FILE  where to write the copy, e.g. /var/backups/moderation/moderation-$(date +%F-%H%M).db

Environment: PYTHON (default python3) runs the backup.
example: sudo -u moderation deploy/backup/sqlite-backup.sh /var/lib/moderation/moderation.db \
             /var/backups/moderation/moderation-$(date +%F-%H%M).db
EOF
    exit 2
}

[ "$#" -eq 2 ] || usage
case "$1" in -h|--help) usage ;; esac
db=$1
backup=$2
python=${PYTHON:-python3}

[ -f "$db" ] || { echo "sqlite-backup: no database file at $db" >&2; exit 1; }
if [ "$(stat -c %u "$db")" != "$(id -u)" ]; then
    echo "sqlite-backup: run as the owner of $db: sudo -u $(stat -c %U "$db") $0 $*" >&2
    exit 1
fi
[ -d "$(dirname "$backup")" ] || { echo "sqlite-backup: no folder $(dirname "$backup")" >&2; exit 1; }

# The backup holds personal data (emails, IP addresses): readable by its owner only.
umask 077
tmp="$backup.partial.$$"
trap 'rm -f "$tmp"' EXIT

"$python" - "$db" "$tmp" <<'EOF'
import sqlite3
import sys

source_path, target_path = sys.argv[1], sys.argv[2]
# timeout: wait (do not fail) while another connection holds a lock we need to start reading.
source = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True, timeout=30)
target = sqlite3.connect(target_path)
with target:
    source.backup(target, pages=-1)  # -1: everything in one step, one consistent snapshot
source.close()
# The copy is a standalone file: no -wal next to it is needed to read it.
target.execute("PRAGMA journal_mode=DELETE")
result = [row[0] for row in target.execute("PRAGMA integrity_check")]
comments = target.execute(
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'comments'"
).fetchone()[0]
count = target.execute("SELECT count(*) FROM comments").fetchone()[0] if comments else 0
target.close()
if result != ["ok"]:
    sys.exit("sqlite-backup: integrity_check of the copy failed: " + "; ".join(result[:10]))
print(f"integrity_check: ok, comments: {count}")
EOF

mv -f "$tmp" "$backup"
trap - EXIT
sync "$backup" "$(dirname "$backup")"  # on disk before we say it is done
echo "sqlite-backup: $db -> $backup ($(stat -c %s "$backup") bytes)"
