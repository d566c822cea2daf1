#!/usr/bin/env bash
# Regenerate docs/screenshots/*.png: the dashboard's views, taken by the
# browser test (tests/e2e/dashboard.sh) against a server loaded with the
# whole bundled dataset, from the Release build. Nothing is drawn by hand.
#
#   scripts/screenshots.sh      (needs what `scripts/dev test` installs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF > /dev/null
cmake --build build -j"$(nproc)"
shots=$(mktemp -d)
trap 'rm -rf "$shots" || true' EXIT
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 bash tests/e2e/dashboard.sh build/src/shopflow \
    data/online_retail.csv.gz build/web/node_modules build/web/dist "$shots" full
mkdir -p docs/screenshots
rm -f docs/screenshots/*.png
for view in analyst-overview analyst-live analyst-invoice analyst-phone customer customer-invoice \
    customer-forbidden sign-in-error; do
    [[ -s "$shots/$view.png" ]] || { echo "screenshots: no $view.png" >&2; exit 1; }
    cp "$shots/$view.png" "docs/screenshots/$view.png"
done
ls -l docs/screenshots
