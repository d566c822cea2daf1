#!/usr/bin/env bash
# Every C file of the project is as clang-format (the checked-in .clang-format)
# would write it; the failure names the files and the command that mends them.
#   usage: format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
command -v clang-format > /dev/null || { echo "format.sh: clang-format is not installed (scripts/deps.sh --test)" >&2; exit 1; }
mapfile -t files < <(find src tests bench web -name node_modules -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort)
[[ ${#files[@]} -gt 100 ]] || { echo "format.sh: only ${#files[@]} C files found under $1" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" > /dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
    echo "not clang-formatted: ${bad[*]}" >&2
    echo "mend with: clang-format -i ${bad[*]}" >&2
    exit 1
fi
echo "format: ${#files[@]} C files as clang-format writes them"
