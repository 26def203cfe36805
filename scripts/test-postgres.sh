#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from the Debian package (postgresql-15 or newer): initdb
# into a temporary directory, started on 127.0.0.1 and a free port with its socket in the same directory,
# trust authentication for the `trailguard` superuser, durability off (it holds nothing worth keeping)
# unless started with --durable.
# As root the cluster runs as `nobody` (PostgreSQL refuses to run as root). When no server binaries are
# installed and we are root, the Debian package is installed first.
#
#   bash scripts/test-postgres.sh start [--watch PID] [--durable]
#       starts one and prints, on stdout, lines to eval:
#         TRAILGUARD_TEST_PG_URL=postgres://trailguard@127.0.0.1:PORT/postgres?sslmode=disable
#         TRAILGUARD_TEST_PG_DIR=/tmp/trailguard-pg.XXXXXX
#       With --watch PID, a detached watcher stops the cluster and removes its directory once PID exits
#       (the testkit uses it when a test binary starts its own cluster).
#       With --durable, a commit is in the server's WAL before it is acknowledged (synchronous_commit on):
#       a cluster that `pause` will crash must keep what it acknowledged, as a real server does. Without it,
#       an immediate stop forgets commits the client was told succeeded.
#   bash scripts/test-postgres.sh stop DIR
#       stops the cluster in DIR and removes DIR.
#   bash scripts/test-postgres.sh pause DIR
#       stops the server of DIR at once (connections dropped), keeping its data: a store outage.
#   bash scripts/test-postgres.sh resume DIR PORT
#       starts the paused server again on PORT.
#
# scripts/test.sh starts one per test run and exports the URL; crates/trailguard-testkit reads it (and
# runs this script itself when the variable is absent, so `cargo test` alone works too).
set -euo pipefail

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
    return
  fi
  if command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return
  fi
  return 1
}

as_owner() {
  # Runs a command as the cluster's owner: `nobody` when we are root, ourselves otherwise.
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u nobody -- "$@"
    else
      su -s /bin/sh nobody -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
  local dir=$1 bin
  bin=$(pg_bin) || true
  if [ -n "${bin:-}" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  case "$dir" in
    */trailguard-pg.*) rm -rf "$dir" ;;
  esac
}

# The server's options: port $1, socket directory $2.
server_options() {
  local commit=off
  if [ -e "$2/durable" ]; then
    commit=on
  fi
  echo "-p $1 -k $2 -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=$commit -c full_page_writes=off -c max_connections=300"
}

pause() {
  local dir=$1 bin
  bin=$(pg_bin)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
}

resume() {
  local dir=$1 port=$2 bin
  bin=$(pg_bin)
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(server_options "$port" "$dir")" start >/dev/null
}

start() {
  local watch="" durable=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --watch) watch=${2:?--watch needs a PID}; shift 2 ;;
      --durable) durable=1; shift ;;
      *) echo "test-postgres: unknown option $1" >&2; exit 2 ;;
    esac
  done
  local bin
  if ! bin=$(pg_bin); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "test-postgres: installing PostgreSQL from the Debian package" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      bin=$(pg_bin)
    else
      echo "test-postgres: no PostgreSQL server binaries (on Debian or Ubuntu: apt-get install postgresql)" >&2
      exit 2
    fi
  fi
  local dir port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/trailguard-pg.XXXXXX")
  chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$dir"
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U trailguard --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 2
  }
  if [ -n "$durable" ]; then
    : >"$dir/durable"
  fi
  # A port picked free can be taken before the server binds it: try a few.
  local tries=0
  while :; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(server_options "$port" "$dir")" \
      start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 5 ]; then
      echo "test-postgres: the server did not start; its log:" >&2
      cat "$dir/server.log" >&2 || true
      rm -rf "$dir"
      exit 2
    fi
  done
  if [ -n "$watch" ]; then
    # Detached from our stdout, so whoever reads it sees the end of this script.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"' \
      watcher "$watch" "$0" "$dir" </dev/null >/dev/null 2>&1 &
  fi
  echo "TRAILGUARD_TEST_PG_URL=postgres://trailguard@127.0.0.1:$port/postgres?sslmode=disable"
  echo "TRAILGUARD_TEST_PG_DIR=$dir"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop "${2:?stop needs the cluster directory}" ;;
  pause) pause "${2:?pause needs the cluster directory}" ;;
  resume) resume "${2:?resume needs the cluster directory}" "${3:?resume needs the port}" ;;
  *) echo "usage: $0 start [--watch PID] [--durable] | stop DIR | pause DIR | resume DIR PORT" >&2; exit 2 ;;
esac
