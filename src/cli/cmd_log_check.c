/*
 * cmd_log_check.c - `shopflow log verify` and `shopflow log repair` (the
 * help is sf_cmd_log's, cmd_log.c): the command-line side of
 * stream/local/check.h.
 *
 * This side brings what the log alone does not know: the sinks' stored
 * positions, as witnesses of what was acknowledged (a sink applied only
 * what the log had made durable), and the archive, the record of truth a
 * repair restores from (sinks/archive_restore.h, passed in as a callback:
 * the stream adapter never sees a sink).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/money.h"
#include "core/progress.h"
#include "sinks/archive_restore.h"
#include "sinks/sink.h"
#include "stream/local/check.h"

typedef struct check_args {
    const char *data; /* NULL: none given (then no sink is a witness) */
    bool json, dry_run;
    char log[4096]; /* the log's folder */
} check_args;

/* The settings cmd_log.c loaded, for verify and repair: a local log. */
static int args(check_args *a)
{
    a->data = sf_cli_source("data") == SF_SRC_DEFAULT ? NULL : sf_cli_text("data");
    a->json = sf_cli_num("json");
    a->dry_run = sf_cli_num("dry-run");
    sf_cli_stream_location(a->log, sizeof a->log);
    if (strncmp(a->log, "local:", 6) == 0)
        memmove(a->log, a->log + 6, strlen(a->log + 6) + 1);
    else if (strstr(a->log, "://"))
        return sf_cli_usage_error(&sf_cmd_log, "%s: verify and repair work on a local log only",
                                  a->log);
    return 0;
}

/* The sinks' stored positions (their defaults under --data), the highest
 * per partition, into witness; notes those past the log's mark. The
 * positions are read before the marks: beside a running server a sink is
 * never past a mark read after it. */
static int witnesses(const check_args *a, uint32_t n, uint64_t *witness, sf_error *err)
{
    uint64_t *marks = calloc(n, sizeof *marks);
    sf_pos *at = calloc((size_t)n * SF_SINKS, sizeof *at);
    int rc = marks && at ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
    sf_sink_places places = sf_cli_places();
    for (int k = 0; rc == 0 && a->data && k < SF_SINKS; k++)
        rc = sf_sink_stored_position(sf_sink_names[k], &places, at + (size_t)k * n, n, err);
    if (rc == 0)
        rc = sf_log_marks(a->log, n, marks, err);
    for (int k = 0; rc == 0 && k < SF_SINKS; k++)
        for (uint32_t p = 0; p < n; p++) {
            uint64_t pos;
            if (!sf_pos_u64(&at[(size_t)k * n + p], &pos))
                pos = UINT64_MAX; /* not the local log's: no witness of it */
            if (pos > marks[p])
                fprintf(stderr,
                        "note: partition %u: the %s sink has applied offsets up to %llu, past "
                        "the log's acknowledged mark (%llu): they count as acknowledged too\n",
                        p, sf_sink_names[k], (unsigned long long)pos - 1,
                        (unsigned long long)marks[p]);
            if (pos > witness[p])
                witness[p] = pos;
        }
    free(marks);
    free(at);
    return rc;
}

/* The log's partition count into *n and its witnesses into *witness
 * (malloc'd, n of them; the caller frees it, also on failure). */
static int prepare(const check_args *a, uint32_t *n, uint64_t **witness, sf_error *err)
{
    *witness = NULL;
    int rc = sf_log_partition_count(a->log, n, err);
    if (rc == 0 && !(*witness = calloc(*n, sizeof **witness)))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    return rc == 0 ? witnesses(a, *n, *witness, err) : rc;
}

static const char *const kinds[] = {"damaged", "missing", "not_a_record", "index",
                                    "hole",    "torn",    "restored",     "marked"};

typedef struct printer {
    bool json, repair, dry_run;
    size_t n;
} printer;

static void print_json_finding(printer *pr, const sf_log_finding *f)
{
    char seg[8192], what[2048];
    sf_json_quote(f->segment, seg, sizeof seg);
    sf_json_quote(f->what, what, sizeof what);
    printf("%s{\"kind\":\"%s\",\"problem\":%s,\"partition\":%u,\"segment\":%s,\"byte\":%llu,"
           "\"bytes\":%llu,\"offset\":%llu,\"count\":%llu,\"what\":%s}",
           pr->n ? "," : "", kinds[f->kind], f->problem ? "true" : "false", f->partition, seg,
           (unsigned long long)f->pos, (unsigned long long)f->bytes, (unsigned long long)f->offset,
           (unsigned long long)f->count, what);
}

static void on_finding(void *ctx, const sf_log_finding *f)
{
    printer *pr = ctx;
    if (pr->json) {
        print_json_finding(pr, f);
    } else {
        const char *tag = f->kind == SF_LOG_RESTORED ? "restored"
                          : f->kind == SF_LOG_MARKED ? "marked lost"
                          : f->problem               ? (pr->repair ? "found" : "problem")
                                                     : "note";
        printf("%s: partition %u: %s byte %llu: %s\n", tag, f->partition, f->segment,
               (unsigned long long)f->pos, f->what);
    }
    pr->n++;
    fflush(stdout);
}

/* `--data DIR` or `--stream LOG`, as the user gave it. */
static void where(const check_args *a, char *out, size_t cap)
{
    if (a->data && !*sf_cli_text("stream"))
        snprintf(out, cap, "--data %s", a->data);
    else
        snprintf(out, cap, "--stream %s", a->log);
}

int sf_cli_log_verify(void)
{
    check_args a = {0};
    if (args(&a) != 0)
        return SF_EXIT_USAGE;
    sf_error err = {0};
    uint32_t n = 0;
    uint64_t *witness;
    int rc = prepare(&a, &n, &witness, &err);
    printer pr = {a.json, false, false, 0};
    sf_progress progress;
    sf_progress_init(&progress, stderr, "verify");
    sf_log_check_opts o = {witness, on_finding, &pr, &progress, NULL, NULL, false};
    sf_log_check_result res = {0};
    bool opened = rc == 0 && a.json;
    if (opened)
        printf("{\"findings\":[");
    if (rc == 0)
        rc = sf_log_verify(a.log, &o, &res, &err);
    free(witness);
    char lq[8192];
    if (rc < 0) {
        sf_json_quote(err.msg, lq, sizeof lq);
        if (opened)
            printf("],\"error\":%s}\n", lq);
        fprintf(stderr, "shopflow log verify: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    char ent[SF_MONEY_TEXT_MAX], by[SF_MONEY_TEXT_MAX], w[4200];
    sf_format_count((int64_t)res.entries, ent);
    sf_format_count((int64_t)res.bytes, by);
    where(&a, w, sizeof w);
    if (a.json) {
        sf_json_quote(a.log, lq, sizeof lq);
        printf("],\"log\":%s,\"partitions\":%u,\"entries\":%llu,\"bytes\":%llu,\"holes\":%llu,"
               "\"problems\":%llu,\"clean\":%s}\n",
               lq, res.partitions, (unsigned long long)res.entries, (unsigned long long)res.bytes,
               (unsigned long long)res.holes, (unsigned long long)res.problems,
               res.problems ? "false" : "true");
    } else if (res.problems) {
        printf("%s: %u partitions, %s entries in %s bytes read: %llu %s. `shopflow log repair "
               "%s` restores what the archive holds and marks the rest lost.\n",
               a.log, res.partitions, ent, by, (unsigned long long)res.problems,
               res.problems == 1 ? "problem" : "problems", w);
    } else {
        printf("%s: %u partitions, %s entries in %s bytes read: no problem%s.\n", a.log,
               res.partitions, ent, by, res.holes ? " (holes are recorded losses, above)" : "");
    }
    return res.problems ? SF_EXIT_FAIL : SF_EXIT_OK;
}

/* The archive to restore from: --archive, or the data folder's (--objects,
 * by default DATA/archive) when there is one. */
static int open_archive(const check_args *a, uint32_t n, sf_archive_restorer **out, sf_error *err)
{
    char def[4200];
    const char *path = *sf_cli_text("archive") ? sf_cli_text("archive") : NULL;
    *out = NULL;
    if (!path && a->data) {
        sf_sink_places places = sf_cli_places();
        sf_sink_location("archive", &places, def, sizeof def);
        path = def;
    }
    if (!path) {
        fprintf(stderr, "note: no archive (--archive LOCATION): what is lost will be marked "
                        "lost\n");
        return 0;
    }
    size_t objects = 0;
    sf_adapter_settings kv = sf_cli_port_opts("objects");
    int rc = sf_archive_restorer_open(path, &kv, n, out, &objects, err);
    if (rc == SF_ENOENT && path == def) {
        fprintf(stderr,
                "note: %s does not exist: nothing can be restored; what is lost will be marked "
                "lost (--archive names another archive)\n",
                def);
        sf_error_clear(err);
        return 0;
    }
    if (rc == 0)
        fprintf(stderr, "restoring from the archive %s (%zu objects)\n", path, objects);
    return rc;
}

int sf_cli_log_repair(void)
{
    check_args a = {0};
    if (args(&a) != 0)
        return SF_EXIT_USAGE;
    sf_error err = {0};
    uint32_t n = 0;
    uint64_t *witness;
    sf_archive_restorer *arc = NULL;
    int rc = prepare(&a, &n, &witness, &err);
    if (rc == 0)
        rc = open_archive(&a, n, &arc, &err);
    printer pr = {false, true, a.dry_run, 0};
    sf_progress progress;
    sf_progress_init(&progress, stderr, "repair");
    sf_log_check_opts o = {witness, on_finding, &pr, &progress, arc ? sf_archive_restore : NULL,
                           arc,     a.dry_run};
    sf_log_check_result res = {0};
    if (rc == 0)
        rc = sf_log_repair(a.log, &o, &res, &err);
    free(witness);
    sf_archive_restorer_free(arc);
    if (rc < 0) {
        fprintf(stderr, "shopflow log repair: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    if (!res.problems) {
        printf("%s: nothing to repair.\n", a.log);
        return SF_EXIT_OK;
    }
    printf("%s%s: %llu %s restored from the archive (%llu matched a stored checksum), %llu "
           "marked lost for good (holes), %u segment %s written again.%s\n",
           a.dry_run ? "dry run, nothing written: " : "", a.log, (unsigned long long)res.restored,
           res.restored == 1 ? "record" : "records", (unsigned long long)res.confirmed,
           (unsigned long long)res.marked, res.rewritten, res.rewritten == 1 ? "file" : "files",
           a.dry_run ? "" : " The log opens again: serve starts and the sinks go on.");
    return SF_EXIT_OK;
}
