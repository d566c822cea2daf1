/*
 * cli.h - the `shopflow` command: its subcommands and their help.
 *
 * Each subcommand is one file (cmd_NAME.c) with a run function that takes
 * the arguments after its name and returns the process exit status:
 * 0 success, 1 the work failed (bad data, I/O), 2 usage error.
 */
#ifndef SF_CLI_H
#define SF_CLI_H

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
extern const sf_command sf_cmd_status;
extern const sf_command sf_cmd_token;
extern const sf_command sf_cmd_replay;
extern const sf_command sf_cmd_report;

/* Print "shopflow NAME: <message>" and the usage hint; returns SF_EXIT_USAGE. */
int sf_cli_usage_error(const sf_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The bundled dataset, for demo: $SHOPFLOW_BUNDLED_DATA, the source tree's
 * data/ folder, or ./data/ (first that exists). */
const char *sf_cli_bundled_data(void);

#endif
