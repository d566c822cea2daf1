/*
 * cmd_serve.c - `shopflow serve`: run the gateway until SIGTERM or SIGINT
 * (and, serving HTTPS, reload its certificate on SIGHUP).
 *
 * Settings come from the table below through core/config.h (flags,
 * SHOPFLOW_* environment, --config file); `shopflow config` prints them.
 * Signals are taken synchronously with sigwait in the main thread, so no
 * work happens in a signal handler: on SIGTERM/SIGINT the gateway stops
 * accepting, answers what is in flight, flushes the log, and the process
 * exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/logline.h"
#include "cli/stack.h"

sf_setting sf_serve_settings[] = {
    SF_OPT_DATA("./var"),
    SF_OPT_LISTEN,
    SF_OPT_STREAM,
    SF_OPT_PARTITIONS("8"),
    SF_CLI_ROW("max-body", SF_SET_BYTES, "8M", 1024, 1LL << 30,
               "largest request body, as sent and once inflated (gzip)"),
    SF_CLI_ROW("threads", SF_SET_INT, "0", 0, 64,
               "HTTP worker threads (0: half the cores, at least 1)"),
    SF_CLI_ROW("max-connections", SF_SET_INT, "10000", 1, 1000000,
               "open connections at most (capped by the open-file limit; idle ones closed near "
               "it)"),
    SF_OPT_DEDUP_WINDOW,
    SF_CLI_ROW("timeout", SF_SET_DURATION, "60s", 1000, 3600000, "idle connection timeout"),
    SF_CLI_ROW("head-timeout", SF_SET_DURATION, "20s", 0, 3600000,
               "a request's line and headers must all arrive within this of their first byte (0: "
               "no limit)"),
    SF_CLI_ROW("min-body-rate", SF_SET_BYTES, "500", 0, 1LL << 30,
               "bytes/s a body must average once --timeout has passed since its head (0: no "
               "minimum)"),
    SF_CLI_ROW("max-queue", SF_SET_BYTES, "256M", 1, 1LL << 40,
               "appends waiting for the disk before 429"),
    SF_CLI_ROW("segment-size", SF_SET_BYTES, "64M", 4096, 1LL << 40, "log segment size"),
    SF_CLI_ROW("retention-size", SF_SET_BYTES, "0", 0, 1LL << 50,
               "keep at most this much log per partition (0: all)"),
    SF_CLI_ROW("retention-age", SF_SET_DURATION, "0s", 0, 1LL << 50,
               "drop log segments older than this (0: never)"),
    SF_CLI_ROW("log-level", SF_SET_STRING, "info", 0, 0, "debug, info, warn or error"),
    SF_CLI_ROW("commit-delay", SF_SET_DURATION, "0ms", 0, 10000,
               "fault injection for tests: wait before each commit"),
    SF_OPT_SINKS("archive,history,warehouse"),
    SF_OPT_PLACES,
    SF_OPT_ARCHIVE,
    SF_CLI_ROW("tls-cert", SF_SET_STRING, "", 0, 0,
               "PEM certificate (and chain) to serve HTTPS with; with tls-key (default: plain "
               "HTTP)"),
    SF_CLI_ROW("tls-key", SF_SET_STRING, "", 0, 0, "PEM private key of tls-cert (not encrypted)"),
    SF_OPT_ON_BAD_ENTRY,
};
const int sf_serve_nsettings = sizeof sf_serve_settings / sizeof sf_serve_settings[0];

/* Half the cores: the rest is for the commit and sync threads (and, on a
 * laptop, whatever sends the load). On 2 cores one HTTP thread served 30 %
 * more single-record requests than two (docs/benchmarks.md). */
static unsigned auto_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 4 ? (unsigned)(n / 2) : 1;
}

static int open_stack(sf_stack *st, sf_error *err)
{
    sf_stack_config cfg = {
        .gateway = {.data_dir = sf_cli_text("data"),
                    .listen = sf_cli_text("listen"),
                    .max_body = (size_t)sf_cli_num("max-body"),
                    .threads = (unsigned)sf_cli_num("threads") ? (unsigned)sf_cli_num("threads")
                                                               : auto_threads(),
                    .max_connections = (unsigned)sf_cli_num("max-connections"),
                    .dedup_window = (size_t)sf_cli_num("dedup-window"),
                    .timeout_s = (unsigned)(sf_cli_num("timeout") / 1000),
                    .head_timeout_ms = (unsigned)sf_cli_num("head-timeout"),
                    .min_body_rate = (size_t)sf_cli_num("min-body-rate"),
                    .tls_cert = sf_cli_text("tls-cert"),
                    .tls_key = sf_cli_text("tls-key")},
        .stream = sf_cli_text("stream"),
        .stream_opts = sf_cli_stream_opts(false),
        .places = sf_cli_places(),
        .archive = sf_cli_archive_opts(),
    };
    cfg.stream_opts.partitions = (uint32_t)sf_cli_num("partitions");
    cfg.stream_opts.segment_bytes = (uint64_t)sf_cli_num("segment-size");
    cfg.stream_opts.retention_bytes = (uint64_t)sf_cli_num("retention-size");
    cfg.stream_opts.retention_seconds = (uint64_t)(sf_cli_num("retention-age") / 1000);
    cfg.stream_opts.queue_bytes = (size_t)sf_cli_num("max-queue");
    cfg.stream_opts.commit_delay_ms = (unsigned)sf_cli_num("commit-delay");
    int rc = sf_stack_parse_sinks(sf_cli_text("sinks"), cfg.sinks, err);
    if (rc == 0)
        rc = sf_bad_entry_parse(sf_cli_text("on-bad-entry"), &cfg.on_bad_entry, err);
    return rc < 0 ? rc : sf_stack_open(st, &cfg, err);
}

static bool tls_on(void)
{
    return *sf_cli_text("tls-cert") || *sf_cli_text("tls-key");
}

/* With TLS, SIGHUP reloads the certificate (without, it keeps its default
 * action); like the stop signals it waits for sigwait in this thread, so it
 * is blocked before the server's threads start. A usage error when only one
 * of the two files is given. */
static int tls_signals(sigset_t *wait)
{
    if (!tls_on())
        return 0;
    if (!*sf_cli_text("tls-cert") || !*sf_cli_text("tls-key"))
        return sf_cli_usage_error(&sf_cmd_serve,
                                  "--tls-cert and --tls-key go together: give both or neither");
    sigaddset(wait, SIGHUP);
    pthread_sigmask(SIG_BLOCK, wait, NULL);
    return 0;
}

/* The TLS files checked before the data folder, the log and the sinks are
 * opened: a bad one fails at once and leaves nothing behind. */
static int check_tls(sf_error *err)
{
    sf_gateway_config g = {.tls_cert = sf_cli_text("tls-cert"), .tls_key = sf_cli_text("tls-key")};
    return sf_gateway_check_tls(&g, err);
}

/* Wait for a stop signal, reloading the certificate at each SIGHUP (the
 * gateway logs each reload and its outcome). Returns the stop signal. */
static int wait_for_stop(const sigset_t *wait, sf_stack *st)
{
    int sig = 0;
    while (sigwait(wait, &sig) == 0 && sig == SIGHUP)
        sf_gateway_reload_tls(st->gateway, NULL);
    return sig;
}

static int run_serve(int argc, char **argv)
{
    sf_error err = {0};
    int status = sf_cli_settings(&sf_cmd_serve, sf_serve_settings, sf_serve_nsettings, argc, argv,
                                 0, NULL, NULL);
    if (status != SF_CLI_GO)
        return status;
    sf_log_level level;
    if (sf_log_level_parse(sf_cli_text("log-level"), &level) < 0)
        return sf_cli_usage_error(&sf_cmd_serve, "log-level: debug, info, warn or error");
    sf_log_set_level(level);

    /* The stop signals wait in this thread, never in the server's. */
    sigset_t stop;
    sf_stack_block_signals(&stop);
    if (tls_signals(&stop) != 0) {
        sf_cli_settings_free();
        return SF_EXIT_USAGE;
    }

    sf_stack st;
    if (check_tls(&err) < 0 || sf_cli_make_data_dir(sf_cli_text("data"), &err) < 0 ||
        open_stack(&st, &err) < 0) {
        char q[600];
        sf_logf(SF_LOG_ERROR, "server_failed", "msg=%s", sf_logq(err.msg, q, sizeof q));
        fprintf(stderr, "shopflow serve: %s\n", err.msg);
        sf_cli_settings_free();
        return err.code == SF_EUSAGE ? SF_EXIT_USAGE : SF_EXIT_FAIL;
    }
    char qd[600];
    sf_logf(SF_LOG_INFO, "server_started", "listen=%s port=%u data=%s sinks=%s pid=%ld tls=%s",
            sf_cli_text("listen"), sf_gateway_port(st.gateway),
            sf_logq(sf_cli_text("data"), qd, sizeof qd), sf_cli_text("sinks"), (long)getpid(),
            tls_on() ? "on" : "off");
    int sig = wait_for_stop(&stop, &st);
    sf_logf(SF_LOG_INFO, "server_stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
    sf_stack_close(&st);
    sf_logf(SF_LOG_INFO, "server_stopped", NULL);
    sf_cli_settings_free();
    return SF_EXIT_OK;
}

const sf_command sf_cmd_serve = {
    "serve",
    "run the HTTP gateway (ingest, history, BI) and the sinks",
    "usage: shopflow serve [--data DIR] [--listen HOST:PORT] [--config FILE] [options]\n"
    "\n"
    "Serves POST /v1/transactions (JSON object or array, NDJSON, or CSV with a header, gzip\n"
    "or not; key role ingest or admin), appending to the stream log of DIR; and /healthz,\n"
    "/readyz, /metrics and /openapi.json (the API's OpenAPI document, docs/openapi.yaml).\n"
    "A 200 means the records are on disk (fdatasync). Create keys with\n"
    "`shopflow keys`. The open-file limit is raised to its hard limit and caps\n"
    "max-connections; near that cap idle connections are closed (docs/api.md, Limits).\n"
    "Stops on SIGTERM or SIGINT after answering the requests in flight.\n"
    "\n"
    "Slow clients: --timeout closes a connection silent that long. A request whose line and\n"
    "headers are not all in --head-timeout after their first byte (default 20s), or whose\n"
    "body, once --timeout has passed since its head, has averaged less than --min-body-rate\n"
    "bytes a second (default 500: a body of N bytes has --timeout + N/500 seconds), is cut\n"
    "off: its connection is closed (event=slow_requests_cut, a line per round of cuts;\n"
    "shopflow_http_slow_requests_cut_total). 0 turns either bound off.\n"
    "\n"
    "HTTP is the default, meant for loopback or behind a proxy that does TLS. --tls-cert FILE\n"
    "--tls-key FILE serve HTTPS instead (TLS 1.2 and 1.3 only): the PEM certificate, its chain\n"
    "after it, and its unencrypted PEM key; both are checked at start. On SIGHUP both files\n"
    "are read again and new connections get the new certificate (open ones keep theirs); a\n"
    "file that cannot be read leaves the old certificate in use. The log has a line for each\n"
    "(tls_reloaded or tls_reload_failed). docs/deploy.md says when a proxy is the better place.\n"
    "\n"
    "Every setting below can also be set in the environment (SHOPFLOW_MAX_BODY=16M) or the\n"
    "--config file (max-body = 16M); `shopflow config` prints the effective values.\n"
    "\n"
    "--on-bad-entry stop|quarantine: what a sink does with an entry of the stream that is not\n"
    "a record (`shopflow help sink`). With stop (the default) that sink stops there for good\n"
    "(event=sink_stopped_at_bad_entry, shopflow_sink_stopped 1) and the others go on; with\n"
    "quarantine it sets the entry aside, counts it (shopflow_sink_quarantined_total) and goes\n"
    "on. `shopflow quarantine` lists, shows and retries what was set aside.\n"
    "\n"
    "--stream kafka://HOST:PORT[,HOST:PORT]/TOPIC appends to Kafka instead (a 200 then means\n"
    "every in-sync replica has the records); --stream-opt KEY=VALUE (repeatable, or @FILE of\n"
    "KEY=VALUE lines) passes librdkafka settings: SASL, TLS, tuning (docs/deploy.md).\n"
    "--stream kinesis://STREAM_NAME appends to a Kinesis data stream (a 200 then means every\n"
    "record has its sequence number); the AWS settings as the aws CLI reads them\n"
    "(AWS_REGION, credentials, AWS_ENDPOINT_URL_KINESIS); the stream is created with\n"
    "--partitions shards when absent; --stream-opt in-flight=N, create=false; a reshard is\n"
    "followed as it runs, and each sink holds a lease (lease-table=NAME, lease-seconds=N,\n"
    "lease-wait=N, lease-group=PREFIX: shopflow help sink).\n"
    "\n",
    run_serve,
};
