#!/usr/bin/env bash
# install.sh SRC DEST - the AWS emulators' packages (tests/aws's lockfile,
# exact versions) installed by `npm ci` into DEST/node_modules, in the build
# tree: the source tree stays clean and each build folder has its own.
#
# Run once per ctest run as the fixture aws.npm_ci; a DEST already holding
# this lockfile's packages is left as it is, so a machine that installed
# them once needs no network again (npm's cache serves --prefer-offline).
set -euo pipefail
src=${1:?usage: install.sh SRC DEST}
dest=${2:?usage: install.sh SRC DEST}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "aws emulators: node and npm are needed to run s3rver, dynalite and kinesalite;" \
         "run scripts/deps.sh --test (Debian's nodejs and npm)" >&2
    exit 1
fi
mkdir -p "$dest"
exec 9>"$dest/.install.lock"
flock 9
stamp=$dest/node_modules/.sf-installed
if [[ -f $stamp ]] && cmp -s "$src/package-lock.json" "$stamp"; then
    echo "aws emulators: installed in $dest/node_modules"
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/"
if ! (cd "$dest" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error); then
    echo "aws emulators: npm ci failed in $dest (is the npm registry reachable, or npm's" \
         "cache filled by an earlier install?); the AWS tests cannot run without s3rver," \
         "dynalite and kinesalite" >&2
    exit 1
fi
cp "$src/package-lock.json" "$stamp"
echo "aws emulators: installed in $dest/node_modules"
