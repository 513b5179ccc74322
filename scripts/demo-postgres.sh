#!/usr/bin/env bash
# Starts the throwaway demo PostgreSQL that the shipped hoop.toml points at
# (127.0.0.1:15433, cluster under data/demo-pg), unless something already
# answers there or hoop.toml no longer points at it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${1:-hoop.toml}
PORT=15433
DIR=$PWD/data/demo-pg
BIN=/usr/lib/postgresql/15/bin

if ! grep -q "address = \"127.0.0.1:$PORT\"" "$CONFIG"; then
  echo "demo-postgres: $CONFIG does not use the demo server; not starting it"
  exit 0
fi
if [ ! -x "$BIN/initdb" ]; then
  echo "demo-postgres: installing PostgreSQL 15 (apt-get install postgresql-15)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then
  echo "demo-postgres: already running on 127.0.0.1:$PORT"
  exit 0
fi
mkdir -p data
chmod 711 data # the postgres user must traverse it; hoop's own files stay 0600
if [ ! -f "$DIR/data/PG_VERSION" ]; then
  rm -rf "$DIR"
  mkdir -p "$DIR/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres "$DIR"
  chmod 700 "$DIR"
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A scram-sha-256 --auth-local=trust -E UTF8 --no-sync >/dev/null
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$DIR/data/pg_hba.conf"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR/data/pg_hba.conf"
  FRESH=1
fi
(cd "$DIR" && as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR/sock" start >/dev/null)
if [ "${FRESH:-}" = 1 ]; then
  ro=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  rw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  psql_pg() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$DIR/sock" -p $PORT -U postgres "$@"; }
  psql_pg -d postgres -c "create database app" \
    -c "create role app_ro login password '$ro'" -c "create role app_rw login password '$rw'"
  psql_pg -d app <<SQL
grant all on schema public to app_rw;
create table customers (id int primary key, name text not null, email text not null);
create table orders (id int primary key, customer_id int references customers, amount numeric(10,2), created_at timestamptz default now());
create table t (id int primary key, note text);
insert into customers select g, 'customer ' || g, 'c' || g || '@example.com' from generate_series(1, 1000) g;
insert into orders select g, 1 + g % 1000, (g % 500) + 0.99, now() - g * interval '1 minute' from generate_series(1, 5000) g;
insert into t select g, 'note ' || g from generate_series(1, 100) g;
grant select on all tables in schema public to app_ro;
grant select, insert, update, delete on all tables in schema public to app_rw;
SQL
  umask 077
  printf '%s\n' "$ro" > "$DIR/readonly.password"
  printf '%s\n' "$rw" > "$DIR/readwrite.password"
fi
echo "demo-postgres: running on 127.0.0.1:$PORT (database app, roles app_ro and app_rw; stop with: make stop-demo)"
