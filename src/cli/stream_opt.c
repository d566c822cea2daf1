/*
 * stream_opt.c - `--stream-opt KEY=VALUE`, repeatable, for the commands that
 * open the stream (serve, sink, import, log, status): settings passed
 * through to the stream's adapter (for Kafka: librdkafka's SASL, TLS and
 * tuning properties; see docs/deploy.md).
 *
 * The option is a list row of the settings table (options.h, SF_OPT_STREAM),
 * so it comes as flags, as SHOPFLOW_STREAM_OPT or as `stream-opt = K=V`
 * lines of the --config file like any other setting. This file checks each
 * value and expands "@FILE", which reads KEY=VALUE lines from FILE instead
 * ('#' comments), so secrets such as sasl.password need not show in the
 * process list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define STREAM_OPTS_MAX 64

/* The values in force: into the settings, or lines read from files. */
static const char *kv[STREAM_OPTS_MAX];
static size_t nkv;
static char *text[STREAM_OPTS_MAX]; /* lines read from files (owned) */
static size_t ntext;

static int add(const char *v, sf_error *err)
{
    if (nkv == STREAM_OPTS_MAX)
        return sf_error_set(err, SF_EUSAGE, "at most %d --stream-opt", STREAM_OPTS_MAX);
    kv[nkv++] = v;
    return 0;
}

/* Read KEY=VALUE lines of path (the text stays in text[]). */
static int add_file(const char *path, sf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_error_set(err, SF_EUSAGE, "--stream-opt @%s: cannot read it", path);
    char line[4096];
    int rc = 0;
    for (int no = 1; rc == 0 && fgets(line, sizeof line, f); no++) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *t = line + strspn(line, " \t");
        if (!*t || *t == '#')
            continue;
        char *copy = strdup(t);
        if (!copy || !strchr(copy, '=') || ntext == STREAM_OPTS_MAX || add(copy, err) < 0) {
            free(copy);
            rc = sf_error_set(err, SF_EUSAGE,
                              "--stream-opt @%s: line %d: say KEY=VALUE (at most %d)", path, no,
                              STREAM_OPTS_MAX);
            break;
        }
        text[ntext++] = copy;
    }
    fclose(f);
    return rc;
}

int sf_cli_stream_opts_load(const sf_setting *row, sf_error *err)
{
    sf_cli_stream_opts_free();
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < row->num; i++) {
        const char *v = sf_config_item(row, i);
        if (v[0] == '@')
            rc = add_file(v + 1, err);
        else if (strchr(v, '=') && v[0] != '=')
            rc = add(v, err);
        else
            rc = sf_error_set(err, SF_EUSAGE, "--stream-opt '%s': say KEY=VALUE", v);
    }
    return rc;
}

void sf_cli_stream_opts_extra(const char *const **out, size_t *n)
{
    *out = kv;
    *n = nkv;
}

void sf_cli_stream_opts_free(void)
{
    for (size_t i = 0; i < ntext; i++)
        free(text[i]);
    ntext = nkv = 0;
}
