#!/usr/bin/env bash
# Kluis backups: encrypted full dumps of the database, encrypted snapshots of the blob folder, and
# the database's binary logs for point-in-time recovery. Pruning (infra/backup/prune.ts) applies
# the keep rules; infra/backup/restore-drill.ts proves a dump restores. See README, "Backups".
#
#   backup.sh db         mariadb-dump --single-transaction of BACKUP_DATABASE  -> db/kluis-db-<UTC>.sql.gz.enc
#   backup.sh blobs      tar of BACKUP_BLOB_DIR (the encrypted folder store)    -> blobs/kluis-blobs-<UTC>.tar.gz.enc
#   backup.sh binlogs    closed binary logs, read through the server            -> binlog/<name>.enc
#   backup.sh decrypt F  checks F against F.sha256 and writes the plaintext to stdout
#
# Settings (environment):
#   BACKUP_DIR            where backups go (db/, blobs/, binlog/ below it), e.g. a mounted remote volume
#   BACKUP_KEY_FILE       the encryption key: one line of 64 hex characters (openssl rand -hex 32), mode 400,
#                         kept OUTSIDE BACKUP_DIR (a backup copy without its key is unreadable, as intended)
#   BACKUP_MYSQL_DEFAULTS a MariaDB option file with a [client] section (host, port, user, password)
#   BACKUP_DATABASE       the database name (default kluis)
#   BACKUP_BINLOG_POSITION=yes  record the binlog position in the dump (needs binary logging and the
#                         RELOAD / BINLOG MONITOR privileges); point-in-time recovery replays from there
#   BACKUP_BLOB_DIR       the folder store (BLOB_DIR of Kluis); MinIO deployments mirror buckets instead
#
# Binary logs: the server encrypts them on disk (encrypt_binlog = ON), and mariadb-binlog cannot read
# an encrypted binlog file (its events stay encrypted under the server's own key). So they are not
# copied as files: `mariadb-binlog --read-from-remote-server --raw` asks the server for each closed
# log, the server sends it decrypted, byte for byte at the same positions, and the stream goes
# through a named pipe straight into openssl: the copy is encrypted under BACKUP_KEY_FILE like every
# other backup and is never on disk in plaintext. A restore decrypts it with `backup.sh decrypt`
# and replays it with mariadb-binlog (infra/backup/restore-drill.ts --binlogs). The option file's
# user needs REPLICATION SLAVE, BINLOG MONITOR and RELOAD (plus SELECT, SHOW VIEW, TRIGGER,
# LOCK TABLES, EVENT on the database for `db`).
set -euo pipefail
umask 077

die() { echo "kluis-backup: $*" >&2; exit 1; }

: "${BACKUP_DIR:?set BACKUP_DIR (where backups are written)}"
: "${BACKUP_KEY_FILE:?set BACKUP_KEY_FILE (64 hex characters; openssl rand -hex 32 > key && chmod 400 key)}"
[[ -r "$BACKUP_KEY_FILE" ]] || die "cannot read the key file $BACKUP_KEY_FILE"
grep -Eq '^[0-9a-fA-F]{64}$' "$BACKUP_KEY_FILE" || die "the key file must hold one line of 64 hex characters (openssl rand -hex 32)"

stamp() { date -u +%Y%m%dT%H%M%SZ; }

# AES-256-CBC with a fresh salt per file; PBKDF2 stretches the key file into the cipher key and IV.
encrypt() { openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt -pass "file:$BACKUP_KEY_FILE" -out "$1"; }
decrypt() { openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass "file:$BACKUP_KEY_FILE" -in "$1"; }

# Written under a temporary name and renamed only when complete, with the checksum beside it, so a
# half-written backup never looks like a good one (to pruning or to a restore).
seal() {
  local target=$1 partial="$1.partial"
  encrypt "$partial"
  (cd "$(dirname "$partial")" && sha256sum "$(basename "$partial")" | sed "s/\.partial\$//") > "$target.sha256"
  mv "$partial" "$target"
  echo "$target"
}

backup_db() {
  : "${BACKUP_MYSQL_DEFAULTS:?set BACKUP_MYSQL_DEFAULTS (a MariaDB option file with [client] user, password, host, port)}"
  local database=${BACKUP_DATABASE:-kluis}
  [[ "$database" =~ ^[A-Za-z0-9_]{1,64}$ ]] || die "BACKUP_DATABASE must be 1-64 letters, digits or _"
  mkdir -p "$BACKUP_DIR/db"
  local position=()
  [[ "${BACKUP_BINLOG_POSITION:-no}" == yes ]] && position=(--master-data=2)
  # --single-transaction: one consistent InnoDB snapshot without locking the tables Kluis writes.
  set -o pipefail
  mariadb-dump --defaults-extra-file="$BACKUP_MYSQL_DEFAULTS" --single-transaction --quick --hex-blob \
    --skip-lock-tables --no-tablespaces --default-character-set=utf8mb4 "${position[@]}" --databases "$database" \
    | gzip -6 | seal "$BACKUP_DIR/db/kluis-db-$(stamp).sql.gz.enc"
}

backup_blobs() {
  : "${BACKUP_BLOB_DIR:?set BACKUP_BLOB_DIR (the blob folder of Kluis); for MinIO see README, Backups}"
  [[ -d "$BACKUP_BLOB_DIR" ]] || die "$BACKUP_BLOB_DIR is not a folder"
  mkdir -p "$BACKUP_DIR/blobs"
  tar -C "$BACKUP_BLOB_DIR" -cf - . | gzip -1 | seal "$BACKUP_DIR/blobs/kluis-blobs-$(stamp).tar.gz.enc"
}

backup_binlogs() {
  : "${BACKUP_MYSQL_DEFAULTS:?set BACKUP_MYSQL_DEFAULTS (a MariaDB option file with [client] user, password, host, port)}"
  mkdir -p "$BACKUP_DIR/binlog"
  local client=(--defaults-extra-file="$BACKUP_MYSQL_DEFAULTS")
  # Close the current log, so every log but the newest is complete and can be copied.
  mariadb "${client[@]}" -e 'FLUSH BINARY LOGS'
  local logs
  logs=$(mariadb "${client[@]}" --batch --skip-column-names -e 'SHOW BINARY LOGS' | cut -f1)
  [[ -n "$logs" ]] || die "the server lists no binary logs (is log_bin on?)"
  # The named pipes live in a private temporary folder (umask 077), removed however the run ends.
  binlog_pipes=$(mktemp -d)
  trap 'rm -rf "$binlog_pipes"' EXIT
  local newest name
  newest=$(tail -n1 <<< "$logs")
  while read -r name; do
    [[ "$name" == "$newest" ]] && continue
    [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "unexpected binary log name \"$name\""
    [[ -e "$BACKUP_DIR/binlog/$name.enc" ]] && continue
    copy_binlog "$name" "$binlog_pipes"
    echo "$BACKUP_DIR/binlog/$name.enc"
  done <<< "$logs"
}

# One closed log from the server, decrypted by it, into openssl through a named pipe. The copy is
# sealed only when mariadb-binlog succeeded, so a broken transfer never looks like a good copy.
copy_binlog() {
  local name=$1 pipes=$2 target="$BACKUP_DIR/binlog/$1.enc"
  mkfifo "$pipes/$name"
  # If mariadb-binlog fails before it opens the pipe, opening it here ends openssl's wait.
  ( status=0
    mariadb-binlog --defaults-extra-file="$BACKUP_MYSQL_DEFAULTS" --read-from-remote-server --raw \
      --result-file="$pipes/" "$name" 2> "$pipes/$name.err" || status=$?
    exec 3<> "$pipes/$name"
    exit "$status" ) &
  local writer=$!
  encrypt "$target.partial" < "$pipes/$name"
  if ! wait "$writer"; then
    rm -f "$target.partial"
    die "could not read the binary log $name from the server: $(tail -c 2000 "$pipes/$name.err")"
  fi
  rm -f "$pipes/$name" "$pipes/$name.err"
  (cd "$(dirname "$target")" && sha256sum "$(basename "$target").partial" | sed "s/\.partial\$//") > "$target.sha256"
  mv "$target.partial" "$target"
}

decrypt_file() {
  local file=${1:?usage: backup.sh decrypt FILE}
  [[ -f "$file" && -f "$file.sha256" ]] || die "$file or its checksum $file.sha256 is missing"
  (cd "$(dirname "$file")" && sha256sum --quiet --check "$(basename "$file").sha256" >&2) || die "$file does not match its checksum: damaged or altered"
  decrypt "$file"
}

case "${1:-}" in
  db) backup_db ;;
  blobs) backup_blobs ;;
  binlogs) backup_binlogs ;;
  decrypt) decrypt_file "${2:-}" ;;
  *) die "usage: backup.sh db|blobs|binlogs|decrypt FILE" ;;
esac
