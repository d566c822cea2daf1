/*
 * cmd_replay.c - `shopflow replay FILE --url URL --key KEY`: stream a file's
 * rows to a running server over HTTP or HTTPS, the way a shop would
 * (replay/replay.h).
 *
 * The library does the work; this file reads the options, prints rejected
 * rows as they come (the first --max-errors of them), draws the progress
 * line, turns Ctrl-C into a clean stop (requests in flight are finished and
 * counted) and prints the summary.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/progress.h"
#include "replay/replay.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct printer {
    long max, seen;
} printer;

static void print_reject(void *ctx, const sf_replay_reject *r)
{
    printer *p = ctx;
    if (p->seen++ < p->max)
        fprintf(stderr, "%s\n", r->message);
}

static int keep_going(void *ctx, const sf_replay_stats *st)
{
    (void)ctx;
    (void)st;
    return interrupted;
}

static int number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static sf_setting settings[] = {
    SF_CLI_ROW("url", SF_SET_STRING, "http://127.0.0.1:8080", 0, 0,
               "the server: URL/v1/transactions is posted to"),
    SF_CLI_ROW("key", SF_SET_STRING, "", 0, 0, "API key with the ingest or admin role"),
    SF_CLI_ROW("cacert", SF_SET_STRING, "", 0, 0,
               "PEM file of the CA (or the certificate) to verify an https:// server with "
               "(default: the system's CA certificates)"),
    SF_OPT_SEND("500"),
    SF_CLI_ROW("max", SF_SET_BOOL, "false", 0, 0,
               "pace: as fast as the server takes them (the default pace)"),
    SF_CLI_ROW("rate", SF_SET_STRING, "", 0, 0, "pace: V rows per second"),
    SF_CLI_ROW("speedup", SF_SET_STRING, "", 0, 0,
               "pace: the shop's own rhythm, the gaps between invoice dates divided by V"),
    SF_CLI_ROW("limit", SF_SET_INT, NULL, 1, 1000000000000000, "send N rows at most"),
    SF_CLI_ROW("from-row", SF_SET_INT, "0", 0, 1000000000000000,
               "start at data row N (0 is the first)"),
    SF_CLI_ROW("retries", SF_SET_INT, "10", 0, 1000, "retries of a request"),
    SF_CLI_ROW("timeout", SF_SET_DURATION, "30s", 1, 86400000,
               "a request's timeout (seconds; 500ms, 2m)"),
    SF_CLI_ROW("linger", SF_SET_DURATION, "0.1s", 0, 86400000,
               "a paced run sends a batch whose rows would span more than this (seconds)"),
    SF_OPT_DECODE,
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

/* The pace: --max, --rate or --speedup, one at most. */
static int pace(sf_replay_opts *o)
{
    const char *rate = sf_cli_text("rate"), *speedup = sf_cli_text("speedup");
    if ((*rate != '\0') + (*speedup != '\0') + (sf_cli_num("max") != 0) > 1)
        return sf_cli_usage_error(&sf_cmd_replay, "give one of --rate, --speedup and --max");
    o->pace = *rate ? SF_REPLAY_RATE : *speedup ? SF_REPLAY_SPEEDUP : SF_REPLAY_MAX;
    if (*rate && number(rate, 1e-6, 1e9, &o->rate) < 0)
        return sf_cli_usage_error(&sf_cmd_replay, "--rate: '%s' is not a number in range", rate);
    if (*speedup && number(speedup, 1e-6, 1e12, &o->speedup) < 0)
        return sf_cli_usage_error(&sf_cmd_replay, "--speedup: '%s' is not a number in range",
                                  speedup);
    return SF_CLI_GO;
}

/* The options into o and p, the FILE into *path. SF_CLI_GO (the settings
 * stay loaded: o points into them), or the status to exit with. */
static int parse_args(int argc, char **argv, sf_replay_opts *o, printer *p, const char **path)
{
    char **words;
    int nwords;
    int status =
        sf_cli_settings(&sf_cmd_replay, settings, NSETTINGS, argc, argv, INT_MAX, &words, &nwords);
    if (status != SF_CLI_GO)
        return status;
    *path = nwords == 1 ? words[0] : "";
    free(words);
    sf_replay_opts_init(o);
    o->url = sf_cli_text("url");
    o->key = sf_cli_text("key");
    o->cacert = *sf_cli_text("cacert") ? sf_cli_text("cacert") : NULL;
    o->batch = (uint32_t)sf_cli_num("batch");
    o->connections = (uint32_t)sf_cli_num("connections");
    o->limit = (uint64_t)sf_cli_num("limit");
    o->from_row = (uint64_t)sf_cli_num("from-row");
    o->retries = (uint32_t)sf_cli_num("retries");
    o->timeout = (double)sf_cli_num("timeout") / 1000;
    o->linger = (double)sf_cli_num("linger") / 1000;
    *p = (printer){.max = (long)sf_cli_num("max-errors")};
    const char *send = sf_cli_text("send");
    o->csv = strcmp(send, "csv") == 0;
    if (!o->csv && strcmp(send, "json") != 0)
        status = sf_cli_usage_error(&sf_cmd_replay, "--send: '%s' is not json or csv", send);
    if (status == SF_CLI_GO)
        status = sf_cli_decode_opts(&sf_cmd_replay, &o->decode);
    if (status == SF_CLI_GO)
        status = pace(o);
    if (status == SF_CLI_GO && !*o->key)
        status = sf_cli_usage_error(&sf_cmd_replay, "no --key given (nor $SHOPFLOW_KEY)");
    if (status == SF_CLI_GO && !**path)
        status = sf_cli_usage_error(&sf_cmd_replay, nwords ? "give one FILE" : "no FILE given");
    if (status != SF_CLI_GO)
        sf_cli_settings_free();
    return status;
}

static int run_replay(int argc, char **argv)
{
    sf_replay_opts o;
    printer p;
    const char *path = NULL;
    int status = parse_args(argc, argv, &o, &p, &path);
    if (status != SF_CLI_GO)
        return status;
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = (int)SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* a second Ctrl-C kills at once */
    sf_progress progress;
    sf_progress_init(&progress, stderr, "replay");
    o.progress = &progress;
    o.on_reject = print_reject;
    o.on_progress = keep_going;
    o.ctx = &p;
    sf_replay_stats st;
    sf_error err = {0};
    int rc = sf_replay_file(path, &o, &st, &err);
    sf_progress_end(&progress);
    if (p.seen > p.max)
        fprintf(stderr, "... and %ld more rejected rows\n", p.seen - p.max);
    if (rc == 0 || st.rows || st.requests) { /* not when FILE could not even be read */
        printf("%s -> %s\n", path, o.url);
        sf_replay_print_summary(stdout, &st);
        fflush(stdout);
    }
    status = SF_EXIT_OK;
    if (rc < 0) {
        fprintf(stderr, "shopflow replay: %s\n", err.msg);
        status = rc == SF_EUSAGE && st.requests == 0 ? SF_EXIT_USAGE : SF_EXIT_FAIL;
    }
    sf_cli_settings_free();
    return status;
}

const sf_command sf_cmd_replay = {
    "replay",
    "stream a file's rows to a running server over HTTP(S), as a shop would",
    "usage: shopflow replay FILE [--url URL] --key KEY [--batch N] [--connections N]\n"
    "                       [--rate ROWS_PER_S | --speedup X | --max] [--limit N] [--from-row N]\n"
    "                       [--retries N] [--timeout SECONDS] [--linger SECONDS] [--cacert FILE]\n"
    "                       [--format auto|csv|json] [--send json|csv]\n"
    "                       [--encoding auto|utf-8|latin1] [--max-errors N]\n"
    "\n"
    "Reads FILE (CSV in either date style, or NDJSON; gzip or not) and posts its rows to\n"
    "URL/v1/transactions (default URL http://127.0.0.1:8080) as NDJSON, --batch rows per\n"
    "request (default 500; 1 sends one row per request, like the original Python client),\n"
    "over --connections keep-alive connections at once (default 4). KEY (or $SHOPFLOW_KEY)\n"
    "must have the ingest or admin role. --send csv posts each batch as CSV instead (text/csv,\n"
    "a header line then the rows): the same records, in half the bytes, decoded faster.\n"
    "\n"
    "An https:// URL is verified against the system's CA certificates, or against the PEM\n"
    "file --cacert FILE (for a server with a certificate of your own CA, or self-signed);\n"
    "a certificate that cannot be verified stops the replay at once with libcurl's reason.\n"
    "There is no option to skip the check.\n"
    "\n"
    "Pace: --max (default) as fast as the server takes them; --rate N rows per second;\n"
    "--speedup X keeps the shop's own rhythm, the gaps between invoice dates divided by X\n"
    "(3600: one hour of trading per second). A paced run sends a batch when it is full or\n"
    "when its rows would span more than --linger seconds (default 0.1), each row no earlier\n"
    "than it is due.\n"
    "\n"
    "Each row carries the event id `shopflow import` gives it (the file's content hash and\n"
    "the row number), so a re-run, a retry, or a replay after an import of the same file\n"
    "does not append a row twice while the server still remembers its id: the server counts\n"
    "it as a duplicate. The server remembers the ids of the last --dedup-window records\n"
    "(default 1,000,000, split evenly over the partitions: docs/api.md); a row whose id has\n"
    "left that window is appended again. (`shopflow import` checks its ids against the whole\n"
    "log.) --from-row N starts at data row N (0 is the first; ids stay those of a full run),\n"
    "--limit N sends N rows at most.\n"
    "\n"
    "429, 503, other 5xx, connection errors and timeouts are retried with exponential\n"
    "backoff (0.1 s doubling up to 10 s, at least the server's Retry-After), --retries times\n"
    "(default 10). A row the decoder finds invalid is not sent; one the server refuses (400)\n"
    "is named by its line and the rest of its request is sent again. Rejected rows are\n"
    "printed (the first --max-errors, default 20) and the others still sent.\n"
    "\n"
    "A progress line (rows, rate, ETA, errors, retries) is drawn on a terminal; Ctrl-C\n"
    "stops reading and waits for the requests in flight. The summary goes to standard\n"
    "output. Exit 0 when every row was accepted (or was already there); 1 if any row was\n"
    "rejected, the server could not be reached after the retries, refused the key, or its\n"
    "certificate could not be verified; 2 for a usage error.\n",
    run_replay,
};
