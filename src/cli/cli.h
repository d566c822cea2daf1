/*
 * cli.h - the `shopflow` command: its subcommands and their help.
 *
 * Each subcommand is one file (cmd_NAME.c) with a run function that takes
 * the arguments after its name and returns the process exit status:
 * 0 success, 1 the work failed (bad data, I/O), 2 usage error.
 */
#ifndef SF_CLI_H
#define SF_CLI_H

#include "core/config.h"
#include "core/error.h"

enum { SF_EXIT_OK = 0, SF_EXIT_FAIL = 1, SF_EXIT_USAGE = 2 };

typedef struct sf_command {
    const char *name;
    const char *summary; /* one line for `shopflow help` */
    const char *help;    /* the full text for `shopflow help NAME` */
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

/* `shopflow log verify|repair ARGS` (cmd_log_check.c); argv[0] is the verb. */
int sf_cli_log_verify(int argc, char **argv);
int sf_cli_log_repair(int argc, char **argv);

/* Print "shopflow NAME: <message>" and the usage hint; returns SF_EXIT_USAGE. */
int sf_cli_usage_error(const sf_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Load cmd's settings (sf_config_load over argv[1..argc)) and give the
 * answers every subcommand gives alike: --help prints cmd->help and the
 * settings' help and returns SF_EXIT_OK; a bad setting, or more than
 * max_words words beside the settings, prints a usage error and returns
 * SF_EXIT_USAGE. Otherwise returns SF_CLI_GO: the settings are loaded (free
 * them with sf_config_free) and *nwords words were left; with words given,
 * *words is their array (into argv; the caller frees the array).
 */
#define SF_CLI_GO (-1)
int sf_cli_settings(const sf_command *cmd, sf_setting *table, int n, int argc, char **argv,
                    int max_words, char ***words, int *nwords);

/* Make the data folder dir and its missing parents (mkdir -p). 0, or SF_EIO
 * with "cannot make the data folder DIR: why" in *err. */
int sf_cli_make_data_dir(const char *dir, sf_error *err);

/* The bundled dataset, for demo: $SHOPFLOW_BUNDLED_DATA, the source tree's
 * data/ folder, or ./data/ (first that exists). */
const char *sf_cli_bundled_data(void);

/* `--stream-opt KEY=VALUE` (repeatable; "@FILE" reads KEY=VALUE lines):
 * settings for the stream's adapter (stream_opt.c). */
#include <stddef.h>
#define SF_CLI_STREAM_OPTS_MAX 64
typedef struct sf_cli_stream_opts {
    const char *kv[SF_CLI_STREAM_OPTS_MAX]; /* into argv or text */
    size_t n;
    char *text[SF_CLI_STREAM_OPTS_MAX]; /* lines read from files (owned) */
    size_t ntext;
} sf_cli_stream_opts;

/* Take every --stream-opt out of argv[1..*argc) (the rest keep their order;
 * *argc shrinks). Returns 0, or SF_EXIT_USAGE after printing why. Free with
 * sf_cli_stream_opts_free once the stream is closed. */
int sf_cli_take_stream_opts(const sf_command *cmd, int *argc, char **argv, sf_cli_stream_opts *o);
void sf_cli_stream_opts_free(sf_cli_stream_opts *o);

#endif
