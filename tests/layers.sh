#!/usr/bin/env bash
# layers.sh - the layering of src/, checked from its #include lines.
#
#   layers.sh SRC           check SRC, after proving on a copy of it that the
#                           check fails on planted wrong includes (the test)
#   layers.sh --check SRC   the check alone: each finding on a line, exit 1
#                           when there is any
#
# Everything but src/cli is one static library, so the linker would let any
# file call any other; this is what keeps the layers looking down. Rules:
#  1. a file includes headers of its own component and of lower layers only
#     (LAYERS below: a higher number is a higher layer; components of one
#     layer may not include each other: that is sideways);
#  2. a header named internal.h, *_int.h or *_internal.h is its folder's own;
#     a port's *_adapter.h (its ops table and handle) is for the files of its
#     folder and the folders below: the port's front and its adapters;
#  3. an engine's client library is included and called only inside its
#     adapter (ENGINES below: the header, where it may be used, and the
#     prefix of its functions; a call is NAME( outside comments).
# A new component or engine is one line in a table.
set -euo pipefail

# component  layer
LAYERS='
core               0
check              1
stream             1
storage/objects    1
storage/store      1
storage/warehouse  1
sinks              2
query              2
gateway            3
replay             3
cli                4
'

# header                allowed under (path prefixes in src/, comma-separated)   function prefix
ENGINES='
sqlite3.h               storage/warehouse/sqlite                                 sqlite3_
lmdb.h                  storage/store/lmdb                                       mdb_
libpq-fe.h              storage/warehouse/postgres                               PQ
librdkafka/rdkafka.h    stream/kafka/                                            rd_kafka_
curl/curl.h             replay/,core/aws                                         curl_
microhttpd.h            gateway/                                                 MHD_
'

read -r -d '' PROG <<'AWK' || true
BEGIN {
    n = split(layers, l, "\n")
    for (i = 1; i <= n; i++)
        if (split(l[i], f, " ") == 2) { layer[f[1]] = f[2]; comps[++ncomps] = f[1] }
    n = split(engines, l, "\n")
    for (i = 1; i <= n; i++)
        if (split(l[i], f, " ") == 3) { eng[++neng] = f[1]; where[neng] = f[2]; fn[neng] = f[3] }
    bad = 0
}
# The component of a path in src/: the longest that is a prefix of it.
function comp(p,    i, best) {
    best = ""
    for (i = 1; i <= ncomps; i++)
        if (index(p, comps[i] "/") == 1 && length(comps[i]) > length(best))
            best = comps[i]
    return best
}
function allowed(file, list,    n, a, i) {
    n = split(list, a, ",")
    for (i = 1; i <= n; i++)
        if (index(file, a[i]) == 1)
            return 1
    return 0
}
function dir(p) { sub(/\/[^\/]*$/, "", p); return p }
function report(msg) { printf "src/%s:%d: %s\n", FILENAME, FNR, msg; bad++ }
FNR == 1 { incomment = 0; me = comp(FILENAME) }
{
    # The line without comments (for calls), kept across lines.
    code = ""; s = $0
    while (s != "") {
        if (incomment) {
            e = index(s, "*/")
            if (!e) { s = ""; break }
            s = substr(s, e + 2); incomment = 0
        } else {
            b = index(s, "/*"); c = index(s, "//")
            if (c && (!b || c < b)) { code = code substr(s, 1, c - 1); s = ""; break }
            if (!b) { code = code s; s = ""; break }
            code = code substr(s, 1, b - 1); s = substr(s, b + 2); incomment = 1
        }
    }
}
code ~ /^[ \t]*#[ \t]*include[ \t]*"/ {
    inc = code; sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", inc); sub(/".*/, "", inc)
    them = comp(inc)
    if (me == "")
        report("#include \"" inc "\": " FILENAME " is in no component of the layers table")
    else if (them == "")
        report("#include \"" inc "\": not a header of any component (the layers table)")
    else if (them != me && layer[them] + 0 >= layer[me] + 0)
        report("#include \"" inc "\": " me " (layer " layer[me] ") may not include " them \
               " (layer " layer[them] "): " (layer[them] == layer[me] ? "sideways" : "up"))
    base = inc; sub(/.*\//, "", base)
    if ((base == "internal.h" || base ~ /_int\.h$/ || base ~ /_internal\.h$/) &&
        dir(inc) != dir(FILENAME))
        report("#include \"" inc "\": an internal header of " dir(inc) "/, included from outside it")
    if (base ~ /_adapter\.h$/ && index(FILENAME, dir(inc) "/") != 1)
        report("#include \"" inc "\": the adapter header of " dir(inc) "/, for its front and " \
               "adapters only")
}
code ~ /^[ \t]*#[ \t]*include[ \t]*</ {
    inc = code; sub(/^[ \t]*#[ \t]*include[ \t]*</, "", inc); sub(/>.*/, "", inc)
    for (i = 1; i <= neng; i++)
        if (inc == eng[i] && !allowed(FILENAME, where[i]))
            report("#include <" inc ">: the engine's library is for its adapter only (" where[i] ")")
}
{
    for (i = 1; i <= neng; i++) {
        if (allowed(FILENAME, where[i]))
            continue
        rest = code
        while (match(rest, "(^|[^A-Za-z0-9_])" fn[i] "[A-Za-z0-9_]*[ \t]*\\(")) {
            call = substr(rest, RSTART, RLENGTH); sub(/^[^A-Za-z_]/, "", call); sub(/[ \t]*\($/, "", call)
            report("calls " call "(): the engine's library is for its adapter only (" where[i] ")")
            rest = substr(rest, RSTART + RLENGTH)
        }
    }
}
END { exit bad > 0 }
AWK

check() {
    local src=${1%/} files
    [[ -d $src/core ]] || { echo "layers.sh: $src is not shopflow's src/" >&2; return 2; }
    mapfile -t files < <(cd "$src" && find . -name '*.[ch]' | sed 's|^\./||' | LC_ALL=C sort)
    (cd "$src" && awk -v layers="$LAYERS" -v engines="$ENGINES" "$PROG" "${files[@]}")
}

if [[ ${1:-} == --check ]]; then
    check "${2:?usage: layers.sh --check SRC}"
    exit
fi
src=${1:?usage: layers.sh SRC}

# The check must be able to fail: a copy of src with one wrong line of each
# kind planted must give exactly those findings.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/src"
plant() { printf '%s\n' "$2" >>"$tmp/src/$1"; echo "src/$1:$(wc -l <"$tmp/src/$1"):"; }
want=(
    "$(plant core/error.c '#include "stream/stream.h"') #include \"stream/stream.h\": core (layer 0) may not include stream (layer 1): up"
    "$(plant storage/objects/file.c '#include "storage/warehouse/warehouse.h"') #include \"storage/warehouse/warehouse.h\": storage/objects (layer 1) may not include storage/warehouse (layer 1): sideways"
    "$(plant sinks/runner.c '#include "cli/cli.h"') #include \"cli/cli.h\": sinks (layer 2) may not include cli (layer 4): up"
    "$(plant cli/main.c '#include "gateway/internal.h"') #include \"gateway/internal.h\": an internal header of gateway/, included from outside it"
    "$(plant cli/main.c '#include <sqlite3.h>') #include <sqlite3.h>: the engine's library is for its adapter only (storage/warehouse/sqlite)"
    "$(plant sinks/history.c 'static void planted(void) { mdb_env_sync(0, 1); /* mdb_txn_begin( */ }') calls mdb_env_sync(): the engine's library is for its adapter only (storage/store/lmdb)"
    "$(plant storage/store/lmdb/lmdb.c '#include <libpq-fe.h>') #include <libpq-fe.h>: the engine's library is for its adapter only (storage/warehouse/postgres)"
    "$(plant core/location.c '#include <curl/curl.h>') #include <curl/curl.h>: the engine's library is for its adapter only (replay/,core/aws)"
    "$(plant storage/objects/objects.c 'static void planted2(void) { curl_easy_init(); }') calls curl_easy_init(): the engine's library is for its adapter only (replay/,core/aws)"
    "$(plant query/bi.c '#include "storage/warehouse/warehouse_adapter.h"') #include \"storage/warehouse/warehouse_adapter.h\": the adapter header of storage/warehouse/, for its front and adapters only"
)
if got=$(check "$tmp/src"); then
    echo "FAIL: the check passed a copy of src/ with wrong includes planted" >&2
    exit 1
fi
ok=1
for w in "${want[@]}"; do
    grep -qxF -- "$w" <<<"$got" || { echo "FAIL: not reported: $w" >&2; ok=0; }
done
if [[ $(grep -c . <<<"$got") != "${#want[@]}" ]]; then
    echo "FAIL: the planted copy gave other findings too:" >&2
    ok=0
fi
((ok)) || { echo "$got" >&2; exit 1; }
echo "the check fails as it should on ${#want[@]} planted wrong lines"

# The real src/.
if ! check "$src"; then
    echo "FAIL: src/ breaks the layering (rules: tests/layers.sh)" >&2
    exit 1
fi
echo "src/: every include looks down, every engine stays in its adapter"
