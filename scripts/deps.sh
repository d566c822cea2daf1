#!/usr/bin/env bash
# Install the Debian 12 packages shopflow needs.
#
#   scripts/deps.sh          what building and running needs
#   scripts/deps.sh --test   that, plus what the tests need (clang for the
#                            fuzzers, cmocka, sqlite3 and jq for the checks,
#                            the PostgreSQL server for the warehouse tests)
#
# Works as root or through sudo. apt-get update runs only when something is
# missing, so a machine that has everything needs no network.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config git
            libcsv-dev libyajl-dev libxxhash-dev zlib1g-dev libmicrohttpd-dev libssl-dev liblmdb-dev libsqlite3-dev libjwt-dev
            libcurl4-openssl-dev librdkafka-dev libpq-dev)
# libdeflate: the archive sink's gzip (faster than zlib on whole objects).
build_pkgs+=(libdeflate-dev)
# GnuTLS: the gateway's HTTPS certificate (libmicrohttpd does the TLS with it).
build_pkgs+=(libgnutls28-dev)
test_pkgs=(clang clang-format libclang-rt-14-dev libcmocka-dev sqlite3 jq perl curl)
# The TLS tests make their certificates, and try old TLS versions, with openssl.
test_pkgs+=(openssl)
# The hostile suite's raw sockets (malformed requests, idle connections) and its exact
# money arithmetic are small python3 scripts.
test_pkgs+=(python3)
# The dashboard's browser tests drive Debian's Chromium (never a downloaded one).
test_pkgs+=(chromium fonts-dejavu-core)
# PostgreSQL 15 (server and psql) for the "postgres" warehouse adapter's tests.
test_pkgs+=(postgresql)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
    pkgs+=("${test_pkgs[@]}")
fi
# The dashboard (web/) builds with Node.js >= 18 and npm: Debian 12's own
# nodejs (18) and npm (9). A node installed otherwise (NodeSource's nodejs
# carries its own npm and conflicts with Debian's) is used as it is.
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "scripts/deps.sh: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
