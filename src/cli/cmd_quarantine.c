/*
 * cmd_quarantine.c - `shopflow quarantine list|show|retry`: the operator's
 * side of the entries the sinks set aside (sinks/quarantine.h).
 *
 * Each sink keeps its own quarantine in its own store (the history's LMDB
 * 'q' keys, the warehouse's sink_quarantine table, the archive's
 * quarantine/ objects), because that is the only place where setting an
 * entry aside and moving the sink's position past it can be one
 * transaction. This command reads them all side by side, shows an entry's
 * bytes and what can be made of them, and applies an entry again once it is
 * fixed. "Fixed" means one of:
 *   - its bytes are a record now: they unpack with this version of shopflow
 *     (a record of a format an older shopflow did not read), or they are
 *     the text of exactly one valid record, JSON or CSV with its header, as
 *     a POST body would be (a message another producer wrote as text);
 *   - the operator gives the record (--record FILE, JSON or CSV), decoded
 *     and validated as every input is.
 * The sink applies it as the entry it stands for and removes the entry, in
 * one transaction (sink.h, retry): applied once, however often retry runs.
 * The warehouse's own sink must not run meanwhile (its rollups are computed
 * from what it last read: the help says so).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/decoder.h"
#include "core/json.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var"),
    SF_CLI_ROW("sink", SF_SET_STRING, "all", 0, 0, "archive, history, warehouse or all"),
    SF_OPT_PLACES,
    SF_CLI_ROW("partition", SF_SET_INT, "-1", -1, SF_STREAM_PARTITIONS_MAX - 1,
               "the entry's partition (show, retry)"),
    SF_CLI_ROW("offset", SF_SET_STRING, "", 0, 0,
               "the entry's position, decimal (its offset on a local log or Kafka; show, retry)"),
    SF_CLI_ROW("record", SF_SET_STRING, "", 0, 0,
               "retry: the fixed record, a JSON or CSV file (- for standard input)"),
    SF_OPT_JSON("list: one JSON object per entry"),
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

/* What a pass over the sinks' quarantines does with each entry. */
typedef struct visit {
    const char *verb;
    const char *sink;       /* the sink being read */
    sf_sink *open;          /* and its handle */
    const sf_record *given; /* retry: --record's */
    size_t seen, done, kept;
    sf_error err;
} visit;

/* --offset, parsed by check_args: the position asked for, if one is. */
static sf_pos asked;
static bool has_asked;

static bool wanted(const sf_quarantined *q)
{
    return (sf_cli_num("partition") < 0 || q->partition == (uint64_t)sf_cli_num("partition")) &&
           (!has_asked || sf_pos_cmp(&q->pos, &asked) == 0);
}

/* ---- what bytes hold ---- */

typedef struct one_record {
    sf_record r;
    size_t records, invalid;
    char why[SF_ERROR_MSG_MAX];
} one_record;

static int take_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    (void)pos;
    one_record *o = ctx;
    if (o->records++ == 0)
        o->r = *r;
    return 0;
}

static int take_error(void *ctx, const sf_decode_error *e)
{
    one_record *o = ctx;
    if (o->invalid++ == 0)
        sf_decode_error_format(e, o->why, sizeof o->why);
    return 0;
}

/* Decode text (or the file at path, when text is NULL) as input is
 * decoded everywhere: 0 when it holds exactly one record, all valid. */
static int decode_one(const char *text, size_t len, const char *path, one_record *o)
{
    memset(o, 0, sizeof *o);
    sf_decode_sink sink = {take_record, take_error, o};
    sf_decoder *d = NULL;
    sf_error err = {0};
    int rc = path ? sf_decode_file(path, NULL, &sink, NULL, NULL, &err)
                  : sf_decoder_new(NULL, &sink, &d, &err);
    if (rc == 0 && d && (rc = sf_decoder_feed(d, text, len, &err)) == 0)
        rc = sf_decoder_finish(d, &err);
    sf_decoder_free(d);
    if (rc < 0 && !o->invalid)
        snprintf(o->why, sizeof o->why, "%s", err.msg);
    else if (rc == 0 && o->records != 1)
        snprintf(o->why, sizeof o->why, "%zu records, not one", o->records);
    return rc < 0 || o->invalid || o->records != 1 ? -1 : 0;
}

/* Whether bytes could be text (no NUL, no control byte but tab and line
 * ends): binary ones are not handed to the decoder. */
static bool text_like(const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
            return false;
    return len > 0;
}

/* The record q's bytes hold now (0), or why none (-1, in why). */
static int record_of(const sf_quarantined *q, sf_record *r, char *why, size_t cap)
{
    sf_stream_entry e = {q->pos, q->data, (uint32_t)q->len};
    char packed[SF_QUARANTINE_REASON_MAX];
    if (sf_entry_check(&e, r, packed, sizeof packed))
        return 0;
    one_record o;
    if (!text_like(q->data, q->len)) {
        snprintf(why, cap, "%s; and it is not text", packed);
        return -1;
    }
    if (decode_one((const char *)q->data, q->len, NULL, &o) == 0) {
        *r = o.r;
        return 0;
    }
    snprintf(why, cap, "not a packed record, and as text: %.400s", o.why);
    return -1;
}

/* ---- list ---- */

static int list_entry(void *ctx, const sf_quarantined *q)
{
    visit *v = ctx;
    if (!wanted(q))
        return 0;
    char at[SF_POS_TEXT_MAX];
    uint64_t small;
    sf_pos_format(&q->pos, at, sizeof at);
    if (sf_cli_num("json")) {
        char reason[2 * SF_ERROR_MSG_MAX];
        sf_json_quote(q->reason, reason, sizeof reason);
        /* a number for an offset, as before; a string of digits when wider */
        bool quote = !sf_pos_u64(&q->pos, &small);
        printf("{\"sink\":\"%s\",\"partition\":%u,\"offset\":%s%s%s,\"bytes\":%zu,"
               "\"quarantined_at\":\"%s\",\"reason\":%s}\n",
               v->sink, q->partition, quote ? "\"" : "", at, quote ? "\"" : "", q->len, q->at,
               reason);
    } else {
        if (v->seen == 0)
            printf("%-10s %9s %20s %7s  %-24s  %s\n", "sink", "partition", "offset", "bytes",
                   "quarantined at", "reason");
        printf("%-10s %9u %20s %7zu  %-24s  %s\n", v->sink, q->partition, at, q->len, q->at,
               q->reason);
    }
    v->seen++;
    return 0;
}

/* ---- show ---- */

static void hex_dump(const uint8_t *data, size_t len)
{
    for (size_t at = 0; at < len; at += 16) {
        printf("  %08zx ", at);
        for (size_t i = at; i < at + 16; i++)
            printf(i < len ? " %02x" : "   ", i < len ? data[i] : 0);
        printf("  |");
        for (size_t i = at; i < at + 16 && i < len; i++)
            putchar(data[i] >= 0x20 && data[i] < 0x7f ? data[i] : '.');
        printf("|\n");
    }
}

static int show_entry(void *ctx, const sf_quarantined *q)
{
    visit *v = ctx;
    if (!wanted(q))
        return 0;
    char at[SF_POS_TEXT_MAX];
    sf_pos_format(&q->pos, at, sizeof at);
    printf("%s%s sink: partition %u offset %s, set aside %s\n  reason: %s\n  %zu bytes:\n",
           v->seen++ ? "\n" : "", v->sink, q->partition, at, q->at, q->reason, q->len);
    hex_dump(q->data, q->len);
    sf_record r;
    char why[SF_ERROR_MSG_MAX], json[SF_JSON_RECORD_MAX];
    if (record_of(q, &r, why, sizeof why) == 0 && sf_json_encode(&r, json, sizeof json) >= 0)
        printf("  holds a record now (`shopflow quarantine retry` applies it):\n  %s\n", json);
    else
        printf("  holds no record: %s\n  (`shopflow quarantine retry --partition %u --offset "
               "%s --record FILE` applies the record you give instead)\n",
               why, q->partition, at);
    return 0;
}

/* ---- retry ---- */

/* An entry to retry, with the record it gets, or why none. */
typedef struct pending {
    uint32_t p;
    sf_pos pos;
    bool ok;
    sf_record r;
    char why[SF_ERROR_MSG_MAX];
} pending;

typedef struct pendings {
    pending *at;
    size_t n, cap;
    bool failed;
    const sf_record *given;
} pendings;

static int note_entry(void *ctx, const sf_quarantined *q)
{
    pendings *ps = ctx;
    if (!wanted(q))
        return 0;
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        pending *more = realloc(ps->at, cap * sizeof *more);
        if (!more)
            return ps->failed = true;
        ps->at = more, ps->cap = cap;
    }
    pending *e = &ps->at[ps->n++];
    *e = (pending){.p = q->partition, .pos = q->pos};
    if (ps->given) {
        e->r = *ps->given;
        e->ok = true;
    } else {
        e->ok = record_of(q, &e->r, e->why, sizeof e->why) == 0;
    }
    return 0;
}

/* Apply each noted entry through the sink, or say why it stays. */
static void retry_noted(visit *v, const pendings *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        const pending *e = &ps->at[i];
        sf_error err = {0};
        v->seen++;
        char at[SF_POS_TEXT_MAX];
        sf_pos_format(&e->pos, at, sizeof at);
        if (e->ok && sf_sink_retry(v->open, e->p, &e->pos, &e->r, &err) == 0) {
            printf("%s: partition %u offset %s: applied, and out of the quarantine\n", v->sink,
                   e->p, at);
            v->done++;
            continue;
        }
        printf("%s: partition %u offset %s: kept in the quarantine: %s\n", v->sink, e->p, at,
               e->ok ? err.msg : e->why);
        v->kept++;
    }
}

/* ---- over the sinks ---- */

/* One sink's quarantine through the verb. A sink whose store was never
 * made has none. */
static int visit_sink(visit *v, const char *name)
{
    sf_sink_places at = sf_cli_places();
    bool retry = strcmp(v->verb, "retry") == 0;
    sf_error err = {0};
    v->sink = name;
    /* Read-only first: a store not there yet never ran, and has nothing set
     * aside (and nothing is made here). */
    int rc = sf_sink_open(name, &at, NULL, true, &v->open, &err);
    if (rc == SF_ENOENT)
        return 0;
    if (rc == 0 && retry) {
        sf_sink_close(v->open);
        rc = sf_sink_open(name, &at, NULL, false, &v->open, &err);
    }
    pendings ps = {.given = v->given};
    if (rc == 0 && retry)
        rc = sf_sink_quarantined(v->open, note_entry, &ps, &err);
    else if (rc == 0)
        rc = sf_sink_quarantined(v->open, strcmp(v->verb, "list") == 0 ? list_entry : show_entry, v,
                                 &err);
    if (rc == 0 && ps.failed)
        rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
    if (rc == 0 && retry)
        retry_noted(v, &ps);
    free(ps.at);
    sf_sink_close(v->open);
    v->open = NULL;
    if (rc < 0) {
        v->err = err;
        sf_error_prefix(&v->err, "%s sink: ", name);
    }
    return rc;
}

/* The options that go together, and --record's record into *given. */
static int check_args(const char *verb, sf_record *given, bool *has_given)
{
    const char *sink = sf_cli_text("sink"), *record = sf_cli_text("record");
    const char *offset = sf_cli_text("offset");
    sf_error bad = {0};
    has_asked = *offset != '\0';
    if (has_asked && sf_pos_parse(offset, strlen(offset), &asked, &bad) < 0)
        return sf_cli_usage_error(&sf_cmd_quarantine, "--offset: %s", bad.msg);
    bool entry = sf_cli_num("partition") >= 0 && has_asked;
    if (!verb || (strcmp(verb, "list") && strcmp(verb, "show") && strcmp(verb, "retry")))
        return sf_cli_usage_error(&sf_cmd_quarantine, "say what to do: list, show or retry");
    if (strcmp(sink, "all") && strcmp(sink, "archive") && strcmp(sink, "history") &&
        strcmp(sink, "warehouse"))
        return sf_cli_usage_error(&sf_cmd_quarantine,
                                  "--sink: archive, history, warehouse or all, not '%s'", sink);
    if (strcmp(verb, "show") == 0 && !entry)
        return sf_cli_usage_error(&sf_cmd_quarantine, "show: say which entry (--partition P "
                                                      "--offset O; `list` shows them)");
    if (*record && (strcmp(verb, "retry") || !entry))
        return sf_cli_usage_error(&sf_cmd_quarantine,
                                  "--record goes with retry --partition P --offset O");
    *has_given = *record != '\0';
    one_record o;
    if (*has_given && decode_one(NULL, 0, record, &o) < 0) {
        fprintf(stderr, "shopflow quarantine: %s: %s: nothing retried\n", record, o.why);
        return SF_EXIT_FAIL;
    }
    if (*has_given)
        *given = o.r;
    return SF_CLI_GO;
}

/* What the pass came to, and the exit status. */
static int conclude(const visit *v, bool failed)
{
    bool entry = sf_cli_num("partition") >= 0 && has_asked;
    if (strcmp(v->verb, "list") == 0 && v->seen == 0 && !sf_cli_num("json"))
        printf("no entries set aside\n");
    if (strcmp(v->verb, "show") == 0 && v->seen == 0) {
        fprintf(stderr, "shopflow quarantine: no entry at partition %lld offset %s is set aside\n",
                (long long)sf_cli_num("partition"), sf_cli_text("offset"));
        return SF_EXIT_FAIL;
    }
    if (strcmp(v->verb, "retry") == 0 && v->seen == 0) {
        printf("nothing to retry%s\n", entry ? ": no such entry is set aside" : "");
        return entry ? SF_EXIT_FAIL : SF_EXIT_OK;
    }
    if (strcmp(v->verb, "retry") == 0 && v->seen > 0)
        printf("%zu applied, %zu kept\n", v->done, v->kept);
    return failed || v->kept ? SF_EXIT_FAIL : SF_EXIT_OK;
}

static int run_quarantine(int argc, char **argv)
{
    char **rest;
    int nrest;
    int status =
        sf_cli_settings(&sf_cmd_quarantine, settings, NSETTINGS, argc, argv, 1, &rest, &nrest);
    if (status != SF_CLI_GO)
        return status;
    const char *verb = nrest == 1 ? rest[0] : NULL;
    free(rest);
    sf_record given;
    bool has_given = false;
    if ((status = check_args(verb, &given, &has_given)) != SF_CLI_GO) {
        sf_cli_settings_free();
        return status;
    }
    visit v = {.verb = verb, .given = has_given ? &given : NULL};
    bool failed = false;
    for (int i = 0; i < SF_SINKS; i++) {
        if (strcmp(sf_cli_text("sink"), "all") && strcmp(sf_cli_text("sink"), sf_sink_names[i]))
            continue;
        if (visit_sink(&v, sf_sink_names[i]) < 0) {
            fprintf(stderr, "shopflow quarantine: %s\n", v.err.msg);
            failed = true;
        }
    }
    status = conclude(&v, failed);
    sf_cli_settings_free();
    return status;
}

const sf_command sf_cmd_quarantine = {
    "quarantine",
    "list, show and retry the entries of the log the sinks set aside (not records)",
    "usage: shopflow quarantine list [--data DIR] [--sink NAME] [--json]\n"
    "       shopflow quarantine show --partition P --offset O [--data DIR] [--sink NAME]\n"
    "       shopflow quarantine retry [--partition P --offset O [--record FILE]] [--data DIR]\n"
    "                                 [--sink NAME]\n"
    "options: [--objects LOCATION] [--store LOCATION] [--warehouse LOCATION] (as `sink`)\n"
    "\n"
    "A sink run with --on-bad-entry quarantine (sink, serve, import --sinks) sets an entry of\n"
    "the log that is not a record (a message another producer wrote to a shared Kafka topic,\n"
    "a record of a newer format) aside in its own store, in the transaction that moves it\n"
    "past the entry: the history store (LMDB keys 'q'), the warehouse (table\n"
    "sink_quarantine) and the archive (quarantine/part-P-OFFSET.bin and .json). Each sink that\n"
    "read the entry holds its own copy. --sink NAME looks at one sink only (default all).\n"
    "\n"
    "list: every entry set aside: sink, partition, offset, size, when, why.\n"
    "show: one entry: its bytes in hex, and the record they hold, if any.\n"
    "retry: applies entries again once they are fixed, each through its sink as the record\n"
    "at its partition and offset, and removes it from the quarantine in the same\n"
    "transaction (so a record is applied once however often retry runs). An entry is fixed\n"
    "when its bytes now unpack as a record of this shopflow, or are the text of exactly one\n"
    "valid record (JSON, or CSV with its header, as a POST body); or when you give the record\n"
    "yourself with --record FILE (JSON or CSV, - for standard input), decoded and validated\n"
    "as every input is, for the one entry --partition and --offset name. An entry that is not\n"
    "fixed stays, and retry says why (exit 1).\n"
    "\n"
    "Retry beside a running server: fine for the history and the archive; for the warehouse\n"
    "stop its sink first (serve --sinks archive,history): a running warehouse sink would\n"
    "write its ranked lists over the retried record's share (SQLite), or hold the loader's\n"
    "lock (PostgreSQL) (docs/operations.md).\n",
    run_quarantine,
};
