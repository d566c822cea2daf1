/*
 * stream_opt.c - `--stream-opt KEY=VALUE`, repeatable, for the commands that
 * open the stream (serve, sink, import, log, status): settings passed
 * through to the stream's adapter (for Kafka: librdkafka's SASL, TLS and
 * tuning properties; see docs/deploy.md).
 *
 * They are taken out of argv before the command parses the rest, because
 * the settings table (core/config.h) holds one value per name. A value
 * "@FILE" reads KEY=VALUE lines from FILE instead ('#' comments), so secrets
 * such as sasl.password need not show in the process list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int add(sf_cli_stream_opts *o, const char *kv)
{
    if (o->n == SF_CLI_STREAM_OPTS_MAX)
        return -1;
    o->kv[o->n++] = kv;
    return 0;
}

/* Read KEY=VALUE lines of path into o (the text stays in o->text). */
static int add_file(const sf_command *cmd, sf_cli_stream_opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_cli_usage_error(cmd, "--stream-opt @%s: cannot read it", path);
    char line[4096];
    int rc = 0;
    for (int no = 1; rc == 0 && fgets(line, sizeof line, f); no++) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *t = line + strspn(line, " \t");
        if (!*t || *t == '#')
            continue;
        char *copy = strdup(t);
        if (!copy || !strchr(copy, '=') || o->ntext == SF_CLI_STREAM_OPTS_MAX || add(o, copy) < 0) {
            free(copy);
            rc = sf_cli_usage_error(cmd, "--stream-opt @%s: line %d: say KEY=VALUE (at most %d)",
                                    path, no, SF_CLI_STREAM_OPTS_MAX);
            break;
        }
        o->text[o->ntext++] = copy;
    }
    fclose(f);
    return rc;
}

int sf_cli_take_stream_opts(const sf_command *cmd, int *argc, char **argv, sf_cli_stream_opts *o)
{
    memset(o, 0, sizeof *o);
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--stream-opt") == 0) {
            if (i + 1 == *argc)
                return sf_cli_usage_error(cmd, "--stream-opt takes KEY=VALUE");
            v = argv[++i];
        } else if (strncmp(argv[i], "--stream-opt=", 13) == 0) {
            v = argv[i] + 13;
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        int rc = v[0] == '@' ? add_file(cmd, o, v + 1)
                 : strchr(v, '=') && v[0] != '='
                     ? (add(o, v) < 0 ? sf_cli_usage_error(cmd, "at most %d --stream-opt",
                                                           SF_CLI_STREAM_OPTS_MAX)
                                      : 0)
                     : sf_cli_usage_error(cmd, "--stream-opt '%s': say KEY=VALUE", v);
        if (rc != 0)
            return rc;
    }
    *argc = kept;
    argv[kept] = NULL;
    return 0;
}

void sf_cli_stream_opts_free(sf_cli_stream_opts *o)
{
    for (size_t i = 0; i < o->ntext; i++)
        free(o->text[i]);
    memset(o, 0, sizeof *o);
}
