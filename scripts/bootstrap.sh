#!/usr/bin/env bash
# Installs the Debian packages xtrade builds and tests against (DESIGN §2),
# only those that are missing, and says exactly what it did.
# Usage: scripts/bootstrap.sh [--check]   (--check: report only, install nothing)
set -eu

pkgs_build="build-essential cmake pkg-config libczmq-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libyaml-dev libopenblas-dev libmicrohttpd-dev libcmocka-dev"
pkgs_test="python3 python3-yaml curl iproute2 prometheus"
want="$pkgs_build $pkgs_test ${XTRADE_EXTRA_PKGS:-}"

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "bootstrap: all $(echo $want | wc -w) required Debian packages are installed"
  exit 0
fi
if [ "${1:-}" = "--check" ]; then
  echo "bootstrap: missing:$missing"
  exit 1
fi

if [ "$(id -u)" = 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "bootstrap: missing Debian packages:$missing" >&2
  echo "bootstrap: not root and no sudo; install them with: apt-get install$missing" >&2
  exit 1
fi

echo "bootstrap: installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "bootstrap: installed:$missing"
