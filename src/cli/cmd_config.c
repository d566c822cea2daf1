/*
 * cmd_config.c - `shopflow config`: print the effective settings of
 * `shopflow serve` and where each comes from (default, file, environment,
 * flag), so what a server will do can be checked before starting it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/config.h"

extern sf_setting sf_serve_settings[];
extern const int sf_serve_nsettings;

static int run_config(int argc, char **argv)
{
    int status = sf_cli_settings(&sf_cmd_config, sf_serve_settings, sf_serve_nsettings, argc, argv,
                                 0, NULL, NULL);
    if (status != SF_CLI_GO)
        return status;
    sf_config_print(sf_serve_settings, sf_serve_nsettings, true);
    sf_cli_settings_free();
    return SF_EXIT_OK;
}

const sf_command sf_cmd_config = {
    "config",
    "print the effective settings of serve and their sources",
    "usage: shopflow config [--config FILE] [--NAME VALUE ...]\n"
    "\n"
    "Prints every setting of `shopflow serve` as `name = value  # source`, after reading\n"
    "the same flags, SHOPFLOW_* environment variables and --config file the server would.\n",
    run_config,
};
