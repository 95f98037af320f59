#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server from Debian's `postgresql` package for the storage tests: a new cluster in a
# fresh temporary directory, listening on 127.0.0.1 at a free port, its unix socket in that directory, trust
# authentication for the `postgres` user, no fsync. Prints three lines, KEY=VALUE:
#   PGDIR=/tmp/kre-pg.XXXX   (give it to scripts/stop-postgres.sh)
#   PGPORT=NNNNN
#   DATABASE_URL=postgres://postgres@127.0.0.1:NNNNN/postgres
# initdb refuses to run as root: as root (CI) the cluster belongs to the `postgres` user that the package creates.
set -euo pipefail
bindir="${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "start-postgres.sh: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; install Debian's" \
       "\`postgresql\` package (scripts/install-test-deps.sh does)" >&2
  exit 2
fi
dir="$(mktemp -d "${TMPDIR:-/tmp}/kre-pg.XXXXXX")"
as_owner=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# A free port: the kernel's pick for a socket bound to port 0, falling back to a random high port; pg_ctl fails on a
# taken one, then another is tried.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 40000))
}
for _ in 1 2 3 4 5; do
  port="$(free_port)"
  if "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 2>&1; then
    echo "PGDIR=$dir"
    echo "PGPORT=$port"
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    exit 0
  fi
done
echo "start-postgres.sh: the server did not start; its log:" >&2
cat "$dir/server.log" >&2 || true
rm -rf "$dir"
exit 1
