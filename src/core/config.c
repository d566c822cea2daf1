/*
 * config.c - the configuration table (see config.h).
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Lines read from config files, kept for the strings pointing into them. */
static char **file_lines;
static size_t file_nlines;

/* The values of the lists (SF_SET_LIST), each with its setting, in order. */
typedef struct list_value {
    const sf_setting *s;
    const char *text;
} list_value;
static list_value *list_values;
static size_t list_n, list_cap;

void sf_config_free(void)
{
    for (size_t i = 0; i < file_nlines; i++)
        free(file_lines[i]);
    free(file_lines);
    file_lines = NULL;
    file_nlines = 0;
    free(list_values);
    list_values = NULL;
    list_n = list_cap = 0;
}

const char *sf_config_item(const sf_setting *s, int64_t i)
{
    for (size_t k = 0; k < list_n; k++)
        if (list_values[k].s == s && i-- == 0)
            return list_values[k].text;
    return NULL;
}

/* Drop the values of list s (a stronger source gives its own). */
static void list_clear(sf_setting *s)
{
    size_t kept = 0;
    for (size_t k = 0; k < list_n; k++)
        if (list_values[k].s != s)
            list_values[kept++] = list_values[k];
    list_n = kept;
    s->num = 0;
    s->text = NULL;
}

static int list_add(sf_setting *s, const char *text, sf_error *err)
{
    if (list_n == list_cap) {
        size_t cap = list_cap ? 2 * list_cap : 16;
        list_value *more = realloc(list_values, cap * sizeof *more);
        if (!more)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        list_values = more;
        list_cap = cap;
    }
    list_values[list_n++] = (list_value){s, text};
    s->text = text;
    s->num++;
    return 0;
}

sf_setting *sf_config_get(sf_setting *table, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static const char *source_name(sf_setting_source s)
{
    static const char *const names[] = {"default", "file", "environment", "flag"};
    return names[s];
}

/* The scale of the suffix at text (after blanks) in the table; -1 if none. */
static int64_t suffix_scale(const char *text, const char *const *suffixes, const int64_t *scales)
{
    while (isspace((unsigned char)*text))
        text++;
    for (int i = 0; suffixes[i]; i++)
        if (strcasecmp(text, suffixes[i]) == 0)
            return scales[i];
    return -1;
}

/* Parse an integer with a suffix table; -1 on failure. */
static int parse_scaled_int(const char *text, const char *const *suffixes, const int64_t *scales,
                            int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno)
        return -1;
    int64_t scale = suffix_scale(end, suffixes, scales);
    if (scale < 0 || __builtin_mul_overflow((int64_t)v, scale, out))
        return -1;
    return 0;
}

/* A duration: a decimal number (0.5, 1.5, 30) with a suffix of the table,
 * rounded to whole units of the scale (ms); -1 on failure. */
static int parse_duration(const char *text, const char *const *suffixes, const int64_t *scales,
                          int64_t *out)
{
    if (!isdigit((unsigned char)*text) && *text != '.')
        return -1; /* no sign, no "inf", "nan" */
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    int64_t scale = end == text || errno ? -1 : suffix_scale(end, suffixes, scales);
    double ms = v * (double)scale + 0.5;
    if (scale < 0 || !(ms < 9.2e18))
        return -1;
    *out = (int64_t)ms;
    return 0;
}

/* 1 for true/yes/on/1, 0 for false/no/off/0 (any case), else -1. */
static int bool_word(const char *text)
{
    if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
        !strcmp(text, "1"))
        return 1;
    if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcasecmp(text, "off") ||
        !strcmp(text, "0"))
        return 0;
    return -1;
}

static int parse_value(sf_setting *s, const char *text, sf_error *err)
{
    static const char *const bytes_sfx[] = {"",   "b",   "k", "kb", "kib", "m",
                                            "mb", "mib", "g", "gb", "gib", NULL};
    static const int64_t bytes_scale[] = {1,       1,       1 << 10, 1 << 10, 1 << 10, 1 << 20,
                                          1 << 20, 1 << 20, 1 << 30, 1 << 30, 1 << 30};
    static const char *const dur_sfx[] = {"", "ms", "s", "m", "h", "d", NULL};
    static const int64_t dur_scale[] = {1000, 1, 1000, 60000, 3600000, 86400000};
    int64_t v = 0;
    int rc = 0;
    switch (s->type) {
    case SF_SET_STRING:
        break;
    case SF_SET_INT:
        rc = parse_scaled_int(text, (const char *const[]){"", NULL}, (const int64_t[]){1}, &v);
        break;
    case SF_SET_BYTES:
        rc = parse_scaled_int(text, bytes_sfx, bytes_scale, &v);
        break;
    case SF_SET_DURATION:
        rc = parse_duration(text, dur_sfx, dur_scale, &v);
        break;
    case SF_SET_LIST:
        return list_add(s, text, err);
    case SF_SET_BOOL:
        rc = (int)(v = bool_word(text)) < 0 ? -1 : 0;
        break;
    }
    if (rc < 0)
        return sf_error_set(err, SF_EUSAGE, "%s: '%s' is not a valid %s (from the %s)", s->name,
                            text,
                            s->type == SF_SET_BOOL       ? "true/false"
                            : s->type == SF_SET_DURATION ? "duration (e.g. 500ms, 30s, 1h)"
                            : s->type == SF_SET_BYTES    ? "size (e.g. 512K, 8M)"
                                                         : "integer",
                            source_name(s->source));
    bool bounded = s->type == SF_SET_INT || s->type == SF_SET_BYTES || s->type == SF_SET_DURATION;
    if (bounded && (s->min || s->max) && (v < s->min || v > s->max))
        return sf_error_set(err, SF_EUSAGE, "%s: %s is out of range (%lld to %lld) (from the %s)",
                            s->name, text, (long long)s->min, (long long)s->max,
                            source_name(s->source));
    s->text = text;
    s->num = v;
    return 0;
}

static int set_from(sf_setting *s, const char *text, sf_setting_source src, sf_error *err)
{
    if (s->type == SF_SET_LIST && s->source != src)
        list_clear(s); /* the values of a weaker source */
    s->source = src;
    return parse_value(s, text, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(sf_setting *table, int n, const char *path, sf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_error_set(err, SF_EUSAGE, "config file %s: %s", path, strerror(errno));
    char buf[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        lineno++;
        char *line = trim(buf);
        if (!*line || *line == '#')
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            rc = sf_error_set(err, SF_EUSAGE, "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *name = trim(line), *value = trim(eq + 1);
        sf_setting *s = sf_config_get(table, n, name);
        if (!s) {
            rc = sf_error_set(err, SF_EUSAGE, "%s:%d: no setting named '%s'", path, lineno, name);
            break;
        }
        char **lines = realloc(file_lines, (file_nlines + 1) * sizeof *lines);
        char *copy = strdup(value);
        if (!lines || !copy) {
            free(copy);
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        file_lines = lines;
        file_lines[file_nlines++] = copy;
        rc = set_from(s, copy, SF_SRC_FILE, err);
        if (rc < 0)
            sf_error_prefix(err, "%s:%d: ", path, lineno);
    }
    fclose(f);
    return rc;
}

static void env_name(const char *name, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "SHOPFLOW_");
    for (const char *p = name; *p && o + 1 < cap; p++)
        out[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[o] = '\0';
}

/* Find the config file named by --config or SHOPFLOW_CONFIG. */
static const char *config_path(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    const char *env = getenv("SHOPFLOW_CONFIG");
    return env && *env ? env : NULL;
}

static int load_flags(sf_setting *table, int n, int argc, char **argv, char **rest, int *nrest,
                      bool *help, sf_error *err)
{
    bool words_only = false; /* after "--" */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!words_only && strcmp(a, "--") == 0) {
            words_only = true;
            continue;
        }
        if (!words_only && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            *help = true;
            continue;
        }
        if (words_only || strncmp(a, "--", 2) != 0) {
            rest[(*nrest)++] = argv[i];
            continue;
        }
        char name[128];
        const char *eq = strchr(a + 2, '='), *value;
        snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)),
                 a + 2);
        if (strcmp(name, "config") == 0) { /* read first (config_path) */
            if (!eq && ++i >= argc)
                return sf_error_set(err, SF_EUSAGE, "--config needs a value");
            continue;
        }
        sf_setting *s = sf_config_get(table, n, name);
        if (!s)
            return sf_error_set(err, SF_EUSAGE, "unknown option --%s", name);
        if (eq)
            value = eq + 1;
        else if (s->type == SF_SET_BOOL && (i + 1 >= argc || bool_word(argv[i + 1]) < 0))
            value = "true"; /* the next word is not its value */
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return sf_error_set(err, SF_EUSAGE, "--%s needs a value", name);
        int rc = set_from(s, value, SF_SRC_FLAG, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sf_config_load(sf_setting *table, int n, int argc, char **argv, char ***rest, int *nrest,
                   bool *help, sf_error *err)
{
    *help = false;
    *nrest = 0;
    *rest = calloc((size_t)argc + 1, sizeof **rest);
    if (!*rest)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        list_clear(&table[i]); /* of an earlier load */
        table[i].source = SF_SRC_DEFAULT;
        table[i].text = NULL;
        table[i].num = 0;
        if (table[i].def && parse_value(&table[i], table[i].def, err) < 0)
            return err->code;
    }
    const char *path = config_path(argc, argv);
    if (path && load_file(table, n, path, err) < 0)
        return err->code;
    for (int i = 0; i < n; i++) {
        char env[160];
        env_name(table[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v && set_from(&table[i], v, SF_SRC_ENV, err) < 0)
            return sf_error_prefix(err, "%s: ", env);
    }
    return load_flags(table, n, argc, argv, *rest, nrest, help, err);
}

void sf_config_print(const sf_setting *table, int n, bool with_help)
{
    for (int i = 0; i < n; i++) {
        const sf_setting *s = &table[i];
        if (with_help)
            printf("# %s\n", s->help);
        if (s->type != SF_SET_LIST)
            printf("%s = %s  # %s\n", s->name, s->text ? s->text : "", source_name(s->source));
        for (int64_t k = 0; s->type == SF_SET_LIST && k < s->num; k++)
            printf("%s = %s  # %s\n", s->name, sf_config_item(s, k), source_name(s->source));
    }
}

#define USAGE_WIDTH 92 /* of the commands' usage texts */
#define USAGE_FLAG  28 /* where the help starts */

/* text wrapped at word boundaries from column *col on (USAGE_FLAG: the
 * start of the help), continuation lines indented to USAGE_FLAG. */
static void print_wrapped(const char *text, int *col)
{
    while (*text) {
        size_t word = strcspn(text, " ");
        if (*col > USAGE_FLAG && *col + 1 + (int)word > USAGE_WIDTH) {
            printf("\n%*s", USAGE_FLAG, "");
            *col = USAGE_FLAG;
        } else if (*col > USAGE_FLAG) {
            putchar(' ');
            (*col)++;
        }
        printf("%.*s", (int)word, text);
        *col += (int)word;
        text += word;
        text += strspn(text, " ");
    }
}

void sf_config_usage(const sf_setting *table, int n)
{
    for (int i = 0; i < n; i++) {
        const sf_setting *s = &table[i];
        char flag[64], dflt[128] = "";
        static const char *const value[] = {
            [SF_SET_STRING] = " V",      [SF_SET_INT] = " N", [SF_SET_BYTES] = " SIZE",
            [SF_SET_DURATION] = " TIME", [SF_SET_BOOL] = "",  [SF_SET_LIST] = " V"};
        int col = snprintf(flag, sizeof flag, "  --%s%s", s->name, value[s->type]);
        fputs(flag, stdout);
        if (col >= USAGE_FLAG - 1) {
            printf("\n");
            col = 0;
        }
        printf("%*s", USAGE_FLAG - col, "");
        col = USAGE_FLAG;
        if (s->type == SF_SET_LIST)
            snprintf(dflt, sizeof dflt, "(repeatable)");
        else if (s->def && *s->def && !(s->type == SF_SET_BOOL && bool_word(s->def) == 0))
            snprintf(dflt, sizeof dflt, "(default %s)", s->def);
        print_wrapped(s->help, &col);
        if (*dflt)
            print_wrapped(dflt, &col);
        printf("\n");
    }
}
