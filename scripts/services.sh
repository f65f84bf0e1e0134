#!/usr/bin/env bash
# Start PostgreSQL and Redis on 127.0.0.1 when they are not running, installing them from the
# OS packages where missing. Idempotent; used by `make test` and CI.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if have apt-get; then
    [ -n "${_APT_UPDATED:-}" ] || { apt-get update -qq >/dev/null; _APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "services: cannot install $* (no apt-get); install it by hand" >&2; exit 1
  fi
}

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "services: installing PostgreSQL"; apt_install postgresql postgresql-client
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  conf=/etc/postgresql/$ver/main
  # Trust auth on loopback, as the test suite connects as postgres without a password.
  if ! grep -q "domainsieve-trust" "$conf/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust # domainsieve-trust\nhost all all ::1/128 trust # domainsieve-trust\nlocal all all trust # domainsieve-trust' "$conf/pg_hba.conf"
  fi
  echo "services: starting PostgreSQL $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

if ! (have redis-cli && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1); then
  have redis-server || { echo "services: installing Redis"; apt_install redis-server; }
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
  redis-cli -h 127.0.0.1 -p 6379 ping
fi

# Browser tests drive Debian's Chromium; docker-compose validates the compose file offline.
if [ -z "${SKIP_BROWSER_INSTALL:-}" ] && ! have chromium; then
  echo "services: installing Chromium"; apt_install chromium || echo "services: Chromium unavailable; e2e tests will skip" >&2
fi
if [ -z "${SKIP_BROWSER_INSTALL:-}" ] && ! have docker-compose; then
  apt_install docker-compose || echo "services: docker-compose unavailable; its check will skip" >&2
fi
echo "services: PostgreSQL and Redis are up"
