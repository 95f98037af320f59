#!/usr/bin/env bash
# Stops a server started by scripts/start-postgres.sh and removes its directory: stop-postgres.sh PGDIR.
set -euo pipefail
dir="${1:?usage: stop-postgres.sh PGDIR (printed by start-postgres.sh)}"
case "$(basename "$dir")" in kre-pg.*) ;; *) echo "stop-postgres.sh: $dir is not a start-postgres.sh directory" >&2; exit 2 ;; esac
bindir="${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
as_owner=()
[ "$(id -u)" = 0 ] && as_owner=(runuser -u postgres --)
if [ -f "$dir/data/postmaster.pid" ] && [ -n "$bindir" ]; then
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
fi
rm -rf "$dir"
