#!/usr/bin/env bash
# System dependencies for the test suite. Idempotent: installs nothing that is already there.
#
# PostgreSQL: the tests start their own throwaway cluster from the server binaries
# (test/support/postgres.ts); the distribution's default cluster is not used, so we ask
# postgresql-common not to create one and keep services from starting during install.
set -euo pipefail

have_pg_server() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have_pg_server; then
  echo "install-deps: PostgreSQL server already installed ($(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' '))"
else
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi

  # No default "main" cluster on 5432 (postgresql-common reads createcluster.d/*.conf).
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' | $SUDO tee /etc/postgresql-common/createcluster.d/50-forja-ci.conf >/dev/null

  # Do not start services from maintainer scripts during this install (restored afterwards).
  policy=/usr/sbin/policy-rc.d
  added_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    added_policy=true
  fi
  cleanup() { if [[ $added_policy == true ]]; then $SUDO rm -f "$policy"; fi; }
  trap cleanup EXIT

  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql

  have_pg_server || { echo "install-deps: postgresql installed but no /usr/lib/postgresql/*/bin/initdb" >&2; exit 1; }
  echo "install-deps: installed PostgreSQL server ($(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' '))"
fi

# The harness runs initdb/postgres as this user when the tests run as root (the package creates it).
if [[ $(id -u) -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
  echo "install-deps: no 'postgres' OS user; the test harness needs it when running as root" >&2
  exit 1
fi

# Prometheus: test/serving/metrics.test.ts starts its own instance (own config, data dir and port
# on 127.0.0.1) that scrapes Forja. The distribution's service is neither started nor needed.
if command -v prometheus >/dev/null 2>&1; then
  echo "install-deps: prometheus already installed ($(command -v prometheus))"
else
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  policy=/usr/sbin/policy-rc.d
  added_prom_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    added_prom_policy=true
  fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
  if [[ $added_prom_policy == true ]]; then $SUDO rm -f "$policy"; fi
  # Should a service manager have started it anyway, stop it: the tests never use it.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl disable --now prometheus || true
  fi
  command -v prometheus >/dev/null 2>&1 || { echo "install-deps: prometheus installed but not on PATH" >&2; exit 1; }
  echo "install-deps: installed prometheus ($(prometheus --version 2>&1 | head -1))"
fi
