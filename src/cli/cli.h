/*
 * cli.h - the `shopflow` command: its subcommands and their help.
 *
 * Each subcommand is one file (cmd_NAME.c) with a run function that takes
 * the arguments after its name and returns the process exit status:
 * 0 success, 1 the work failed (bad data, I/O), 2 usage error.
 *
 * Every subcommand reads its options through one front: a settings table
 * (core/config.h) of its own rows and the shared ones of options.h, loaded
 * by sf_cli_settings. So each takes its options as flags, as SHOPFLOW_*
 * variables and from a --config file alike, and prints its help the same
 * way (`shopflow help NAME` runs `NAME --help`).
 */
#ifndef SF_CLI_H
#define SF_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "core/config.h"
#include "core/decoder.h"
#include "core/error.h"
#include "sinks/sink.h"
#include "stream/stream.h"

enum { SF_EXIT_OK = 0, SF_EXIT_FAIL = 1, SF_EXIT_USAGE = 2 };

typedef struct sf_command {
    const char *name;
    const char *summary; /* one line for `shopflow help` */
    const char *help;    /* the text of `shopflow help NAME`, before the settings */
    int (*run)(int argc, char **argv);
} sf_command;

extern const sf_command sf_cmd_check;
extern const sf_command sf_cmd_demo;
extern const sf_command sf_cmd_log;
extern const sf_command sf_cmd_serve;
extern const sf_command sf_cmd_keys;
extern const sf_command sf_cmd_config;
extern const sf_command sf_cmd_import;
extern const sf_command sf_cmd_sink;
extern const sf_command sf_cmd_quarantine;
extern const sf_command sf_cmd_status;
extern const sf_command sf_cmd_token;
extern const sf_command sf_cmd_replay;
extern const sf_command sf_cmd_report;

/* `shopflow log verify|repair` (cmd_log_check.c), over the settings
 * cmd_log.c loaded. */
int sf_cli_log_verify(void);
int sf_cli_log_repair(void);

/* Print "shopflow NAME: <message>" and the usage hint; returns SF_EXIT_USAGE. */
int sf_cli_usage_error(const sf_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Load cmd's settings (sf_config_load over argv[1..argc)) and give the
 * answers every subcommand gives alike: --help (-h) prints cmd->help and the
 * settings' help and returns SF_EXIT_OK, before any setting is read (so a
 * bad SHOPFLOW_* variable cannot hide the help); a bad setting, a bad
 * --stream-opt, or more than max_words words beside the settings, prints a
 * usage error and returns SF_EXIT_USAGE. Otherwise returns SF_CLI_GO: the
 * settings are loaded and become the ones sf_cli_text and the others below
 * read (free them with sf_cli_settings_free), and *nwords words were left;
 * with words given, *words is their array (into argv; the caller frees the
 * array).
 */
#define SF_CLI_GO (-1)
int sf_cli_settings(const sf_command *cmd, sf_setting *table, int n, int argc, char **argv,
                    int max_words, char ***words, int *nwords);

/* Free what sf_cli_settings loaded (the settings and the --stream-opt). */
void sf_cli_settings_free(void);

/* The loaded settings, by name (the name must be in the command's table). */
const char *sf_cli_text(const char *name); /* "" for an unset string */
int64_t sf_cli_num(const char *name);
sf_setting_source sf_cli_source(const char *name); /* SF_SRC_DEFAULT: not given */

/* From the rows of options.h: the sinks' stores and their adapters'
 * settings (SF_OPT_DATA, SF_OPT_PLACES); the stream's location and adapter
 * settings (SF_OPT_STREAM); the archive's (SF_OPT_ARCHIVE). The settings
 * point into memory held until sf_cli_settings_free. */
sf_sink_places sf_cli_places(void);
void sf_cli_stream_location(char *out, size_t cap);
sf_stream_opts sf_cli_stream_opts(bool read_only);
sf_archive_opts sf_cli_archive_opts(void);

/* --format and --encoding (SF_OPT_DECODE) into *out: SF_CLI_GO, or
 * SF_EXIT_USAGE after printing what is wrong. */
int sf_cli_decode_opts(const sf_command *cmd, sf_decode_opts *out);

/* Make the data folder dir and its missing parents (mkdir -p). 0, or SF_EIO
 * with "cannot make the data folder DIR: why" in *err. */
int sf_cli_make_data_dir(const char *dir, sf_error *err);

/* The bundled dataset, for demo: $SHOPFLOW_BUNDLED_DATA, the source tree's
 * data/ folder, or ./data/ (first that exists). */
const char *sf_cli_bundled_data(void);

/* Expand the values of the --stream-opt, --objects-opt, --store-opt and
 * --warehouse-opt rows of table[0..n) that it has (port_opts.c): KEY=VALUE,
 * or "@FILE" of KEY=VALUE lines ('#' comments). 0, or SF_EUSAGE with why in
 * *err. What it read is freed by sf_cli_port_opts_free. */
int sf_cli_port_opts_load(sf_setting *table, int n, sf_error *err);
/* The loaded settings of port ("stream", "objects", "store", "warehouse"):
 * memory held until sf_cli_port_opts_free (none when the table had no
 * such row). */
sf_adapter_settings sf_cli_port_opts(const char *port);
void sf_cli_port_opts_free(void);

#endif
