#!/usr/bin/env bash
# Installs what the tests and the rehearsal need that npm does not bring: PostgreSQL 15 client
# tools (pg_dump, pg_restore, pgbench), PgBouncer, shellcheck for the shell scripts, and Chromium,
# in which the tests draw every Mermaid chart (puppeteer-core drives it and downloads no browser). apt-get
# when root; otherwise one clear line naming the packages to install.
set -euo pipefail

need=()
command -v pg_dump >/dev/null 2>&1 && [ -x /usr/lib/postgresql/15/bin/pg_dump ] || need+=(postgresql-client-15)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || need+=(pgbouncer)
command -v pgbench >/dev/null 2>&1 || [ -x /usr/lib/postgresql/15/bin/pgbench ] || need+=(postgresql-contrib)
id postgres >/dev/null 2>&1 || need+=(postgresql-common)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "pgshift tests need these Debian packages: ${need[*]} — run: sudo apt-get install -y ${need[*]}" >&2
  exit 2
fi
echo "installing ${need[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# Debian starts a pgbouncer service on install; the tests start their own on free ports. Stop that
# service only when this run installed the package, through the service's own unit or pid file —
# never by process name: on the source EC2 production's PgBouncer runs next to the runner
# (docs/design.md rule 14).
stop_service_installed_here() {
  local service=$1
  if [ -d /run/systemd/system ] && systemctl cat "$service.service" >/dev/null 2>&1; then
    systemctl disable --now "$service.service" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$service" ]; then
    # The init script stops the daemon recorded in its pid file (start-stop-daemon --pidfile).
    "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
  echo "stopped the $service service that this script just installed (the tests start their own)" >&2
}
for package in "${need[@]}"; do
  if [ "$package" = pgbouncer ]; then stop_service_installed_here pgbouncer; fi
done
