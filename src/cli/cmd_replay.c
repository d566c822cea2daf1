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
#include <getopt.h>
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

static const struct option options[] = {
    {"url", required_argument, NULL, 'u'},
    {"cacert", required_argument, NULL, 'C'},
    {"key", required_argument, NULL, 'k'},
    {"batch", required_argument, NULL, 'b'},
    {"connections", required_argument, NULL, 'c'},
    {"rate", required_argument, NULL, 'r'},
    {"speedup", required_argument, NULL, 'x'},
    {"max", no_argument, NULL, 'M'},
    {"limit", required_argument, NULL, 'l'},
    {"from-row", required_argument, NULL, 'F'},
    {"retries", required_argument, NULL, 'R'},
    {"timeout", required_argument, NULL, 't'},
    {"linger", required_argument, NULL, 'L'},
    {"format", required_argument, NULL, 'f'},
    {"send", required_argument, NULL, 's'},
    {"encoding", required_argument, NULL, 'e'},
    {"max-errors", required_argument, NULL, 'm'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *option_name(int c)
{
    for (const struct option *o = options; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

/* One numeric option into its place in o (or p). -1 when out of range. */
static int numeric_option(int c, const char *arg, sf_replay_opts *o, printer *p)
{
    double v;
    switch (c) {
    case 'b':
        return number(arg, 1, SF_REPLAY_BATCH_MAX, &v) < 0 ? -1 : (o->batch = (uint32_t)v, 0);
    case 'c':
        return number(arg, 1, SF_REPLAY_CONNECTIONS_MAX, &v) < 0
                   ? -1
                   : (o->connections = (uint32_t)v, 0);
    case 'r':
        o->pace = SF_REPLAY_RATE;
        return number(arg, 1e-6, 1e9, &o->rate);
    case 'x':
        o->pace = SF_REPLAY_SPEEDUP;
        return number(arg, 1e-6, 1e12, &o->speedup);
    case 'l':
        return number(arg, 1, 1e15, &v) < 0 ? -1 : (o->limit = (uint64_t)v, 0);
    case 'F':
        return number(arg, 0, 1e15, &v) < 0 ? -1 : (o->from_row = (uint64_t)v, 0);
    case 'R':
        return number(arg, 0, 1000, &v) < 0 ? -1 : (o->retries = (uint32_t)v, 0);
    case 't':
        return number(arg, 0.001, 86400, &o->timeout);
    case 'L':
        return number(arg, 0, 86400, &o->linger);
    case 'm':
        return number(arg, 0, 1e9, &v) < 0 ? -1 : (p->max = (long)v, 0);
    }
    return -1;
}

static int parse_args(int argc, char **argv, sf_replay_opts *o, printer *p)
{
    sf_replay_opts_init(o);
    o->url = "http://127.0.0.1:8080";
    o->key = getenv("SHOPFLOW_KEY");
    *p = (printer){.max = 20};
    int c, paces = 0;
    while ((c = getopt_long(argc, argv, "u:C:k:b:c:r:x:Ml:F:R:t:L:f:s:e:m:h", options, NULL)) !=
           -1) {
        switch (c) {
        case 'u':
            o->url = optarg;
            break;
        case 'C':
            o->cacert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 'M':
            o->pace = SF_REPLAY_MAX;
            paces++;
            break;
        case 'f':
            if (sf_format_parse(optarg, &o->decode.format) < 0)
                return sf_cli_usage_error(&sf_cmd_replay, "unknown --format '%s'", optarg);
            break;
        case 's':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "csv") != 0)
                return sf_cli_usage_error(&sf_cmd_replay, "--send: '%s' is not json or csv",
                                          optarg);
            o->csv = strcmp(optarg, "csv") == 0;
            break;
        case 'e':
            if (sf_encoding_parse(optarg, &o->decode.encoding) < 0)
                return sf_cli_usage_error(&sf_cmd_replay, "unknown --encoding '%s'", optarg);
            break;
        case 'h':
            fputs(sf_cmd_replay.help, stdout);
            exit(SF_EXIT_OK);
        case '?':
            return sf_cli_usage_error(&sf_cmd_replay, "unknown option");
        default:
            paces += c == 'r' || c == 'x';
            if (numeric_option(c, optarg, o, p) < 0)
                return sf_cli_usage_error(&sf_cmd_replay, "--%s: '%s' is not a number in range",
                                          option_name(c), optarg);
        }
    }
    if (paces > 1)
        return sf_cli_usage_error(&sf_cmd_replay, "give one of --rate, --speedup and --max");
    if (!o->key || !*o->key)
        return sf_cli_usage_error(&sf_cmd_replay, "no --key given (nor $SHOPFLOW_KEY)");
    if (optind + 1 != argc)
        return sf_cli_usage_error(&sf_cmd_replay,
                                  optind == argc ? "no FILE given" : "give one FILE");
    return 0;
}

static int run_replay(int argc, char **argv)
{
    sf_replay_opts o;
    printer p;
    if (parse_args(argc, argv, &o, &p) != 0)
        return SF_EXIT_USAGE;
    const char *path = argv[optind];
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
    if (rc < 0) {
        fprintf(stderr, "shopflow replay: %s\n", err.msg);
        return rc == SF_EUSAGE && st.requests == 0 ? SF_EXIT_USAGE : SF_EXIT_FAIL;
    }
    return SF_EXIT_OK;
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
