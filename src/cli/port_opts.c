/*
 * port_opts.c - `--stream-opt`, `--objects-opt`, `--store-opt` and
 * `--warehouse-opt KEY=VALUE`, each repeatable: settings passed through to
 * the adapter of that port (for Kafka: librdkafka's SASL, TLS and tuning
 * properties, docs/deploy.md; an adapter that takes none refuses them).
 *
 * Each option is a list row of the settings table (options.h), so it comes
 * as flags, as SHOPFLOW_STREAM_OPT (...) or as `stream-opt = K=V` lines of
 * the --config file like any other setting. This file checks each value and
 * expands "@FILE", which reads KEY=VALUE lines from FILE instead ('#'
 * comments), so secrets such as sasl.password need not show in the process
 * list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define PORT_OPTS_MAX 64

/* The four ports' rows, in the order of sf_cli_port_opts's names. */
static const char *const rows[] = {"stream-opt", "objects-opt", "store-opt", "warehouse-opt"};
#define NPORTS (sizeof rows / sizeof rows[0])

/* The values in force, per port: into the settings, or lines read from
 * files. */
static struct port_kv {
    const char *kv[PORT_OPTS_MAX];
    size_t nkv;
    char *text[PORT_OPTS_MAX]; /* lines read from files (owned) */
    size_t ntext;
} ports[NPORTS];

static int add(struct port_kv *p, const char *row, const char *v, sf_error *err)
{
    if (p->nkv == PORT_OPTS_MAX)
        return sf_error_set(err, SF_EUSAGE, "at most %d --%s", PORT_OPTS_MAX, row);
    p->kv[p->nkv++] = v;
    return 0;
}

/* Read KEY=VALUE lines of path (the text stays in p->text[]). */
static int add_file(struct port_kv *p, const char *row, const char *path, sf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_error_set(err, SF_EUSAGE, "--%s @%s: cannot read it", row, path);
    char line[4096];
    int rc = 0;
    for (int no = 1; rc == 0 && fgets(line, sizeof line, f); no++) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *t = line + strspn(line, " \t");
        if (!*t || *t == '#')
            continue;
        char *copy = strdup(t);
        if (!copy || !strchr(copy, '=') || p->ntext == PORT_OPTS_MAX ||
            add(p, row, copy, err) < 0) {
            free(copy);
            rc = sf_error_set(err, SF_EUSAGE, "--%s @%s: line %d: say KEY=VALUE (at most %d)", row,
                              path, no, PORT_OPTS_MAX);
            break;
        }
        p->text[p->ntext++] = copy;
    }
    fclose(f);
    return rc;
}

static int load_row(struct port_kv *p, const char *name, const sf_setting *row, sf_error *err)
{
    int rc = 0;
    for (int64_t i = 0; rc == 0 && i < row->num; i++) {
        const char *v = sf_config_item(row, i);
        if (v[0] == '@')
            rc = add_file(p, name, v + 1, err);
        else if (strchr(v, '=') && v[0] != '=')
            rc = add(p, name, v, err);
        else
            rc = sf_error_set(err, SF_EUSAGE, "--%s '%s': say KEY=VALUE", name, v);
    }
    return rc;
}

int sf_cli_port_opts_load(sf_setting *table, int n, sf_error *err)
{
    sf_cli_port_opts_free();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < NPORTS; i++) {
        const sf_setting *row = sf_config_get(table, n, rows[i]);
        if (row)
            rc = load_row(&ports[i], rows[i], row, err);
    }
    return rc;
}

sf_adapter_settings sf_cli_port_opts(const char *port)
{
    for (size_t i = 0; i < NPORTS; i++)
        if (strncmp(rows[i], port, strlen(port)) == 0 && rows[i][strlen(port)] == '-')
            return (sf_adapter_settings){ports[i].kv, ports[i].nkv};
    return (sf_adapter_settings){NULL, 0};
}

void sf_cli_port_opts_free(void)
{
    for (size_t i = 0; i < NPORTS; i++) {
        for (size_t k = 0; k < ports[i].ntext; k++)
            free(ports[i].text[k]);
        ports[i].ntext = ports[i].nkv = 0;
    }
}
