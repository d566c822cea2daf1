#!/usr/bin/env bash
# The auth matrix (docs/api.md, "Authentication"): every kind of credential
# (none, malformed headers, unknown, revoked, each role's key, customer
# tokens of this and another customer, expired, forged, tokens signed with
# the right secret but the wrong algorithm or claims) against every kind of
# route (ingest, the three history routes, BI, /metrics, /healthz, /readyz),
# each with the status the docs give and the JSON error shape; a customer
# token learns nothing of other customers' invoices.
#   usage: auth.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
data="$tmp/data"
make_keys "$data"
start_server "$data"

# Two customers' invoices in the history store and the warehouse.
body="$(rec event_id '"a1"')"$'\n'"$(rec event_id '"a2"' InvoiceNo '"536367"' CustomerID 13047)"
expect_json "$(post_as "$INGEST" application/x-ndjson "$body")" 200 '.accepted == 2' "setup"
wait_caught_up 120 --data "$data"
other=$("$shopflow" token --data "$data" --customer 13047 | tail -1)

# jwt HEADER PAYLOAD -> a token signed with this folder's secret (HS256, or
# HS512 when HEADER says so), as only the server should be able to make.
jwt() {
    perl -MMIME::Base64 -MDigest::SHA=hmac_sha256,hmac_sha512 -e '
        sub b64 { my $s = encode_base64($_[0], ""); $s =~ tr{+/}{-_}; $s =~ s/=+$//; $s }
        my ($h, $p, $hex) = @ARGV;
        my $in = b64($h) . "." . b64($p);
        my $key = pack("H*", $hex);
        my $sig = $h =~ /HS512/ ? hmac_sha512($in, $key) : hmac_sha256($in, $key);
        print $in, ".", b64($sig), "\n";' "$1" "$2" "$(head -c 64 "$data/token.secret")"
}
now=$(date +%s)
hs256='{"alg":"HS256","typ":"JWT"}'
made=$(jwt "$hs256" "{\"sub\":\"17850\",\"exp\":$((now + 3600))}")
expect "$(req "$made" GET /v1/customers/17850/invoices)" 200 "a token made here with the secret"

# The credentials. Header values are sent as they are: "Bearer …" or other.
declare -A cred=(
    [none]=""
    [basic]="Basic $(printf 'admin:admin' | base64)"
    [bearer-alone]="Bearer"
    [bearer-empty]="Bearer "
    [token-scheme]="Token $ADMIN"
    [key-alone]="$ADMIN"
    [two-spaces]="Bearer  $ADMIN"
    [unknown-key]="Bearer sfk_$(printf '0%.0s' $(seq 64))"
    [short-key]="Bearer ${ADMIN%?}"
    [long-key]="Bearer ${ADMIN}0"
    [upper-key]="Bearer $(tr a-z A-Z <<< "$ADMIN")"
    [huge-key]="Bearer sfk_$(head -c 6000 /dev/zero | tr '\0' a)"
    [other-folder-key]="Bearer $("$shopflow" keys create --data "$tmp/elsewhere" --role admin | tail -1)"
    [garbage-token]="Bearer a.b.c"
    [forged-signature]="Bearer ${TOKEN%?}$([[ ${TOKEN: -1} == A ]] && echo B || echo A)"
    [other-folder-token]="Bearer $("$shopflow" token --data "$tmp/elsewhere" --customer 17850 | tail -1)"
    [alg-none]="Bearer $(printf '{"alg":"none","typ":"JWT"}' | base64 | tr -d '=\n' | tr '/+' '_-').$(printf '{"sub":"17850","exp":9999999999}' | base64 | tr -d '=\n' | tr '/+' '_-')."
    [alg-hs512]="Bearer $(jwt '{"alg":"HS512","typ":"JWT"}' "{\"sub\":\"17850\",\"exp\":$((now + 3600))}")"
    [no-signature]="Bearer ${made%.*}."
    [no-exp]="Bearer $(jwt "$hs256" '{"sub":"17850"}')"
    [exp-passed]="Bearer $(jwt "$hs256" "{\"sub\":\"17850\",\"exp\":$((now - 10))}")"
    [exp-text]="Bearer $(jwt "$hs256" "{\"sub\":\"17850\",\"exp\":\"$((now + 3600))\"}")"
    [sub-number]="Bearer $(jwt "$hs256" "{\"sub\":17850,\"exp\":$((now + 3600))}")"
    [sub-text]="Bearer $(jwt "$hs256" "{\"sub\":\"admin\",\"exp\":$((now + 3600))}")"
    [sub-negative]="Bearer $(jwt "$hs256" "{\"sub\":\"-1\",\"exp\":$((now + 3600))}")"
    [sub-too-long]="Bearer $(jwt "$hs256" "{\"sub\":\"1234567890\",\"exp\":$((now + 3600))}")"
    [no-sub]="Bearer $(jwt "$hs256" "{\"exp\":$((now + 3600))}")"
    [payload-swapped]="Bearer ${TOKEN%%.*}.$(cut -d. -f2 <<< "$other").${TOKEN##*.}" # 13047's claims
    [claims-edited]="Bearer ${made%%.*}.$(printf '{"sub":"13047","exp":%d}' $((now + 3600)) | base64 | tr -d '=\n' | tr '/+' '_-').${made##*.}"
    [ingest]="Bearer $INGEST"
    [analyst]="Bearer $ANALYST"
    [admin]="Bearer $ADMIN"
    [admin-lower-scheme]="bearer $ADMIN"
    [token]="Bearer $TOKEN"
    [other-token]="Bearer $other"
)
# Keys revoked while the server runs: refused within a second or so.
for role in ingest analyst admin; do
    key=$("$shopflow" keys create --data "$data" --role "$role" --name "revoked-$role" | tail -1)
    cred[revoked-$role]="Bearer $key"
done

# The routes: ingest, history (an invoice of 17850, its list, its invoice),
# BI, and the three open ones.
routes=(ingest invoice list detail bi metrics healthz readyz)
call() { # call CREDENTIAL_NAME ROUTE -> the status
    local h=() v=${cred[$1]}
    [[ -z "$v" ]] || h=(-H "Authorization: $v")
    case $2 in
    ingest) req "" POST /v1/transactions "${h[@]}" -H 'Content-Type: application/json' \
        --data-binary "$(rec event_id '"auth"')" ;;
    invoice) req "" GET /v1/invoices/536365 "${h[@]}" ;;
    list) req "" GET /v1/customers/17850/invoices "${h[@]}" ;;
    detail) req "" GET /v1/customers/17850/invoices/536365 "${h[@]}" ;;
    bi) req "" GET '/v1/bi/top-customers?period=year' "${h[@]}" ;;
    *) req "" GET "/$2" "${h[@]}" ;;
    esac
}
# matrix NAME INGEST INVOICE LIST DETAIL BI: the statuses wanted; the open
# routes are 200 whatever is sent.
matrix() {
    local name=$1 i code
    shift
    local want=("$@" 200 200 200)
    for i in "${!routes[@]}"; do
        code=$(call "$name" "${routes[$i]}")
        case ${want[$i]} in
        401) expect_error "$code" 401 unauthorized "$name on ${routes[$i]}" ;;
        403) expect_error "$code" 403 forbidden "$name on ${routes[$i]}" ;;
        *) expect "$code" "${want[$i]}" "$name on ${routes[$i]}" ;;
        esac
    done
}
for _ in $(seq 100); do # up to 10 s for the server to see the new keys
    [[ $(call revoked-admin bi) == 200 && $(call revoked-ingest ingest) == 200 &&
        $(call revoked-analyst bi) == 200 ]] && break
    sleep 0.1
done
matrix revoked-ingest 200 403 403 403 403
matrix revoked-analyst 403 200 200 200 200
matrix revoked-admin 200 200 200 200 200
for role in ingest analyst admin; do
    id=$("$shopflow" keys list --data "$data" --json |
        jq -r --arg n "revoked-$role" '.[] | select(.name == $n) | .id')
    "$shopflow" keys revoke --data "$data" "$id" > /dev/null
done
for _ in $(seq 100); do # up to 10 s for the server to see the revocations
    [[ $(call revoked-admin bi) == 401 && $(call revoked-ingest ingest) == 401 &&
        $(call revoked-analyst bi) == 401 ]] && break
    sleep 0.1
done

matrix ingest 200 403 403 403 403
matrix analyst 403 200 200 200 200
matrix admin 200 200 200 200 200
matrix admin-lower-scheme 200 200 200 200 200
matrix token 403 200 200 200 403
matrix other-token 403 403 403 403 403
for c in none basic bearer-alone bearer-empty token-scheme key-alone two-spaces unknown-key \
    short-key long-key upper-key huge-key other-folder-key garbage-token forged-signature \
    other-folder-token alg-none alg-hs512 no-signature no-exp exp-passed exp-text sub-number \
    sub-text sub-negative sub-too-long no-sub payload-swapped claims-edited revoked-ingest \
    revoked-analyst revoked-admin; do
    matrix "$c" 401 401 401 401 401
done

# A 401 says why.
says() { # says CREDENTIAL_NAME REGEX
    call "$1" list > /dev/null
    CASES=$((CASES + 1))
    holds '.error.message | test($r)' "$tmp/resp" --arg r "$2" ||
        fail "$1: the 401 does not say /$2/: $(answer)"
}
says none 'Authorization: Bearer'
says unknown-key 'unknown or revoked'
says revoked-admin 'unknown or revoked'
says exp-passed 'expired'
says alg-hs512 'HS256'
says no-exp 'expiry'
says sub-text 'subject'
says forged-signature 'signature'

# A token reads only its own customer, and learns nothing of others: an
# invoice of another customer and one that does not exist look the same.
expect_error "$(call other-token list)" 403 forbidden "13047's token on 17850's list"
for path in /v1/customers/13047/invoices /v1/customers/13047/invoices/536367 \
    /v1/invoices/536367 /v1/invoices/NOPE '/v1/bi/sales' '/v1/bi/nothing'; do
    expect_error "$(req "$TOKEN" GET "$path")" 403 forbidden "17850's token on $path"
done
a=$(req "$TOKEN" GET /v1/customers/17850/invoices/536367)
b=$(req "$TOKEN" GET /v1/customers/17850/invoices/NOPE)
expect "$a" "$b" "17850's token: another's invoice and no invoice under its own route"
expect "$(req "$TOKEN" GET '/v1/customers/17850/invoices?limit=1000')" 200 "own list"
expect_json "$(req "$TOKEN" GET /v1/invoices/536365)" 200 '.customer_id == 17850' "own invoice"
# The ingest key and a token read nothing, even with a body or odd methods.
expect_error "$(req "$INGEST" GET /v1/invoices/536365 --data-binary x)" 403 forbidden \
    "ingest key reading with a body"
expect_error "$(req "$TOKEN" POST /v1/transactions -H 'Content-Type: text/csv' --data-binary x)" \
    403 forbidden "a token posting CSV"
# Nothing a refused request sent was stored: the log holds the setup and
# the one record posted by the keys that may ingest (the rest duplicates).
CASES=$((CASES + 1))
[[ $(records "$data") -eq 3 ]] || fail "the log holds $(records "$data") records, expected 3"
stop_server
hostile_done auth
