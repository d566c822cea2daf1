/*
 * config.h - configuration as a table: name, type, default, bounds, help.
 *
 * A command declares its settings once, as an array of sf_setting; values
 * then come, strongest first, from command-line flags (--name VALUE), the
 * environment (SHOPFLOW_NAME, dashes as underscores), an optional file
 * (--config FILE, or SHOPFLOW_CONFIG: lines "name = value", '#' comments),
 * and the default. Every value is checked against its type and bounds, and a
 * bad one is an error naming the setting and where it came from. `shopflow
 * config` prints the effective values and their sources from the same table.
 *
 * A repeatable setting (SF_SET_LIST: --stream-opt K=V --stream-opt K2=V2)
 * keeps every value its strongest source gives: all its flags, else the
 * environment's one value, else every line of the file that names it. Its
 * values are read with sf_config_item; num counts them.
 *
 * On the command line a word after "--" is never a flag; a bool flag takes
 * the next word only when it is a bool (--once, --once false), so
 * `check --json FILE` keeps FILE as a word.
 */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sf_setting_type {
    SF_SET_STRING,
    SF_SET_INT,      /* integer in [min, max] */
    SF_SET_BYTES,    /* integer with an optional K/M/G suffix (powers of 1024) */
    SF_SET_DURATION, /* seconds, with an optional ms/s/m/h/d suffix, decimals allowed
                      * (0.5, 1.5m); stored in ms, rounded */
    SF_SET_BOOL,     /* true/false, yes/no, on/off, 1/0 */
    SF_SET_LIST,     /* text, repeatable: every value kept (sf_config_item) */
} sf_setting_type;

typedef enum sf_setting_source {
    SF_SRC_DEFAULT,
    SF_SRC_FILE,
    SF_SRC_ENV,
    SF_SRC_FLAG,
} sf_setting_source;

typedef struct sf_setting {
    const char *name; /* "listen", "max-body" */
    sf_setting_type type;
    const char *def;  /* default, as text; NULL = unset */
    int64_t min, max; /* bounds of numeric types */
    const char *help;
    /* Filled by sf_config_load: */
    const char *text; /* the effective text (points into argv, environ, the file's copy or def);
                       * of a list, its last value */
    int64_t num;      /* numeric value (ms for durations, 0/1 for bools, values of a list) */
    sf_setting_source source;
} sf_setting;

/*
 * Resolve every setting of table[0..n) from argv (flags may be interleaved
 * with positional arguments, which are moved, in order, to the front of
 * *rest), the environment and the config file. "--help" sets *help.
 * Returns 0, or SF_EUSAGE with a message naming the setting and the source.
 * Strings from a file stay allocated until sf_config_free.
 */
int sf_config_load(sf_setting *table, int n, int argc, char **argv, char ***rest, int *nrest,
                   bool *help, sf_error *err);

/* The setting named name (NULL if none). */
sf_setting *sf_config_get(sf_setting *table, int n, const char *name);

/* Value i (0 .. s->num - 1) of the list s, in the order given; NULL past
 * the end. Valid until sf_config_free. */
const char *sf_config_item(const sf_setting *s, int64_t i);

/* Print "name = value  # source" lines (one per value of a list), and the
 * help of each. */
void sf_config_print(const sf_setting *table, int n, bool with_help);

/* Help lines for a command's usage text: "  --name N   help (default X)"
 * (V for text, N for an integer, SIZE, TIME, nothing for a bool), the help
 * wrapped to the width of the usage texts. */
void sf_config_usage(const sf_setting *table, int n);

void sf_config_free(void);

#endif
