/*
 * settings.c - the one front every subcommand reads its options through:
 * load its settings table (file, environment, flags: core/config.h), answer
 * --help, refuse a bad setting or stray words with a usage error, and then
 * read the values by name, so each cmd_*.c begins with one call and its own
 * work.
 *
 * The table loaded last is the one the accessors read: a process runs one
 * subcommand, so one table is loaded at a time. The accessors built on the
 * shared rows of options.h (places, stream, archive, decoding) are here too,
 * so that no command spells out those settings again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static sf_setting *loaded;
static int nloaded;

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* cmd's help: its text, then its settings. */
static void print_help(const sf_command *cmd, const sf_setting *table, int n)
{
    size_t len = strlen(cmd->help);
    fputs(cmd->help, stdout);
    if (n == 0)
        return;
    if (len < 2 || strcmp(cmd->help + len - 2, "\n\n") != 0)
        fputs("\n", stdout);
    fputs("Settings: each is a flag, or SHOPFLOW_NAME=VALUE in the environment (dashes as\n"
          "underscores), or a line `name = value` in the --config FILE (or $SHOPFLOW_CONFIG); a\n"
          "flag wins over the environment, which wins over the file. Sizes take K/M/G, durations\n"
          "ms/s/m/h/d.\n\n",
          stdout);
    sf_config_usage(table, n);
}

int sf_cli_settings(const sf_command *cmd, sf_setting *table, int n, int argc, char **argv,
                    int max_words, char ***words, int *nwords)
{
    if (words)
        *words = NULL;
    if (nwords)
        *nwords = 0;
    if (wants_help(argc, argv)) {
        print_help(cmd, table, n);
        return SF_EXIT_OK;
    }
    char **rest = NULL;
    int nrest = 0;
    bool help = false;
    sf_error err = {0};
    int rc = sf_config_load(table, n, argc - 1, argv + 1, &rest, &nrest, &help, &err);
    if (rc == 0 && nrest > max_words)
        rc = sf_error_set(&err, SF_EUSAGE, "unexpected argument '%s'", rest[max_words]);
    if (rc == 0)
        rc = sf_cli_port_opts_load(table, n, &err);
    if (rc < 0) {
        free(rest);
        sf_cli_settings_free();
        if (rc == SF_EUSAGE)
            return sf_cli_usage_error(cmd, "%s", err.msg);
        fprintf(stderr, "shopflow %s: %s\n", cmd->name, err.msg);
        return SF_EXIT_FAIL;
    }
    loaded = table;
    nloaded = n;
    if (words)
        *words = rest;
    else
        free(rest);
    if (nwords)
        *nwords = nrest;
    return SF_CLI_GO;
}

void sf_cli_settings_free(void)
{
    sf_config_free();
    sf_cli_port_opts_free();
    loaded = NULL;
    nloaded = 0;
}

static const sf_setting *setting(const char *name)
{
    const sf_setting *s = loaded ? sf_config_get(loaded, nloaded, name) : NULL;
    if (!s) { /* a command asked for a row its table lacks */
        fprintf(stderr, "shopflow: internal error: no setting '%s' loaded\n", name);
        abort();
    }
    return s;
}

const char *sf_cli_text(const char *name)
{
    const char *t = setting(name)->text;
    return t ? t : "";
}

int64_t sf_cli_num(const char *name)
{
    return setting(name)->num;
}

sf_setting_source sf_cli_source(const char *name)
{
    return setting(name)->source;
}

sf_sink_places sf_cli_places(void)
{
    return (sf_sink_places){sf_cli_text("data"),          sf_cli_text("objects"),
                            sf_cli_text("store"),         sf_cli_text("warehouse"),
                            sf_cli_port_opts("objects"),  sf_cli_port_opts("store"),
                            sf_cli_port_opts("warehouse")};
}

void sf_cli_stream_location(char *out, size_t cap)
{
    sf_stream_location(sf_cli_text("data"), sf_cli_text("stream"), out, cap);
}

sf_stream_opts sf_cli_stream_opts(bool read_only)
{
    sf_adapter_settings kv = sf_cli_port_opts("stream");
    return (sf_stream_opts){.read_only = read_only, .extra = kv.extra, .nextra = kv.nextra};
}

sf_archive_opts sf_cli_archive_opts(void)
{
    return (sf_archive_opts){(uint64_t)sf_cli_num("archive-object-size"),
                             (unsigned)sf_cli_num("archive-max-wait"),
                             (int)sf_cli_num("archive-gzip-level")};
}

int sf_cli_decode_opts(const sf_command *cmd, sf_decode_opts *out)
{
    *out = (sf_decode_opts){0};
    if (sf_format_parse(sf_cli_text("format"), &out->format) < 0)
        return sf_cli_usage_error(cmd, "unknown --format '%s'", sf_cli_text("format"));
    if (sf_encoding_parse(sf_cli_text("encoding"), &out->encoding) < 0)
        return sf_cli_usage_error(cmd, "unknown --encoding '%s'", sf_cli_text("encoding"));
    return SF_CLI_GO;
}
