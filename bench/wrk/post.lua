-- wrk script: POST the body in $BODY_FILE to /v1/transactions with the key
-- in $KEY and the content type in $CTYPE (default application/json).
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
wrk.headers["Content-Type"] = os.getenv("CTYPE") or "application/json"

-- No response() hook: wrk would hand every answer to Lua, which costs more
-- than the server's work. Non-2xx answers show in wrk's summary and in the
-- server's /metrics.
done = function(summary, latency, requests)
  io.write(string.format("latency p50=%.3fms p99=%.3fms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
