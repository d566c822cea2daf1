# Shared by the benchmark scripts (sourced): a server on a free loopback port.
#
# bench_serve DATA [ARGS...]: start `$shopflow serve` on DATA, its log in
# $tmp/log; sets pid and url. The caller's EXIT trap kills $pid.
bench_serve() {
    local data=$1 port=
    shift
    "$shopflow" serve --data "$data" --listen 127.0.0.1:0 "$@" 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*event=server_started .*port=\([0-9]*\).*/\1/p' "$tmp/log")
        [[ -n "$port" ]] && break
        sleep 0.05
    done
    [[ -n "$port" ]] || { echo "the server did not start: $(cat "$tmp/log")" >&2; exit 1; }
    url="http://127.0.0.1:$port"
}
