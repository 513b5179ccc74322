#!/usr/bin/env bash
# Installs what `make test` needs and the machine may lack: PostgreSQL 15
# (server and psql), pgbouncer (benchmarks), Chromium and the npm packages
# of the browser tests, a JDK and Debian's PostgreSQL JDBC driver (JDBC
# client tests). Each step is skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v psql >/dev/null || need+=(postgresql-client-15)
command -v chromium >/dev/null || need+=(chromium)
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || need+=(libpostgresql-jdbc-java)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-test-deps: apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "install-test-deps: missing ${need[*]}; install them (apt-get) or run as root" >&2
  fi
fi
if [ -f web/package.json ] && [ ! -d web/node_modules ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
