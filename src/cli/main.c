/*
 * main.c - `shopflow`: dispatch to a subcommand, help and version.
 *
 * The table below is the one list of subcommands; `help` is generated from
 * it, so a new command is one file plus one line here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/fsutil.h"

/* One command per line. */
/* clang-format off */
static const sf_command *const commands[] = {
    &sf_cmd_check,
    &sf_cmd_import,
    &sf_cmd_sink,
    &sf_cmd_quarantine,
    &sf_cmd_status,
    &sf_cmd_report,
    &sf_cmd_log,
    &sf_cmd_serve,
    &sf_cmd_keys,
    &sf_cmd_token,
    &sf_cmd_config,
    &sf_cmd_demo,
    &sf_cmd_replay,
};
/* clang-format on */
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const sf_command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void overview(FILE *out)
{
    fprintf(out,
            "shopflow %s - a streaming data pipeline for an online retailer's transactions\n\n"
            "usage: shopflow COMMAND [ARGS...]\n\ncommands:\n",
            SF_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "  %-10s %s\n", "help", "show this list, or `help COMMAND` for one command");
    fprintf(out, "\nshopflow --version prints the version.\n");
}

int sf_cli_usage_error(const sf_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shopflow %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see `shopflow help %s`)\n", cmd->name);
    return SF_EXIT_USAGE;
}

int sf_cli_make_data_dir(const char *dir, sf_error *err)
{
    if (sf_mkdirs(dir, NULL) == 0)
        return 0;
    /* errno is the failing call's (fsutil.h): the message names the folder asked for. */
    return sf_error_set(err, SF_EIO, "cannot make the data folder %s: %s", dir, strerror(errno));
}

const char *sf_cli_bundled_data(void)
{
    static const char *const candidates[] = {SF_BUNDLED_DATA, "data/online_retail.csv.gz"};
    const char *env = getenv("SHOPFLOW_BUNDLED_DATA");
    if (env && *env)
        return env;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return SF_BUNDLED_DATA;
}

static int help(int argc, char **argv)
{
    if (argc < 2) {
        overview(stdout);
        return SF_EXIT_OK;
    }
    const sf_command *cmd = find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "shopflow help: no command named '%s'\n", argv[1]);
        overview(stderr);
        return SF_EXIT_USAGE;
    }
    /* The same text as `NAME --help`: the command's own, with its settings. */
    char *args[] = {argv[1], "--help", NULL};
    return cmd->run(2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        overview(stderr);
        return SF_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("shopflow %s\n", SF_VERSION);
        return SF_EXIT_OK;
    }
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return help(argc - 1, argv + 1);
    const sf_command *cmd = find(name);
    if (!cmd) {
        fprintf(stderr, "shopflow: no command named '%s'\n\n", name);
        overview(stderr);
        return SF_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
