/*
 * settings.c - the part of every settings-driven subcommand's start that is
 * the same: load its settings (file, environment, flags: core/config.h),
 * answer --help, and refuse a bad setting or stray words with a usage error,
 * so each cmd_*.c begins with one call and its own work.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int sf_cli_settings(const sf_command *cmd, sf_setting *table, int n, int argc, char **argv,
                    int max_words, char ***words, int *nwords)
{
    char **rest = NULL;
    int nrest = 0;
    bool help = false;
    sf_error err = {0};
    int rc = sf_config_load(table, n, argc - 1, argv + 1, &rest, &nrest, &help, &err);
    int status = SF_CLI_GO;
    if (rc < 0) {
        status = sf_cli_usage_error(cmd, "%s", err.msg);
    } else if (help) {
        fputs(cmd->help, stdout);
        sf_config_usage(table, n);
        status = SF_EXIT_OK;
    } else if (nrest > max_words) {
        status = sf_cli_usage_error(cmd, "unexpected argument '%s'", rest[max_words]);
    }
    if (status != SF_CLI_GO || !words) {
        free(rest);
        rest = NULL;
    }
    if (status != SF_CLI_GO && rc == 0)
        sf_config_free();
    if (words)
        *words = rest;
    if (nwords)
        *nwords = status == SF_CLI_GO ? nrest : 0;
    return status;
}
