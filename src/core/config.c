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

void sf_config_free(void)
{
    for (size_t i = 0; i < file_nlines; i++)
        free(file_lines[i]);
    free(file_lines);
    file_lines = NULL;
    file_nlines = 0;
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

/* Parse an integer with a suffix table; -1 on failure. */
static int parse_scaled_int(const char *text, const char *const *suffixes, const int64_t *scales,
                            int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    int64_t scale = -1;
    for (int i = 0; suffixes[i]; i++)
        if (strcasecmp(end, suffixes[i]) == 0)
            scale = scales[i];
    if (scale < 0 || __builtin_mul_overflow((int64_t)v, scale, out))
        return -1;
    return 0;
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
        rc = parse_scaled_int(text, dur_sfx, dur_scale, &v);
        break;
    case SF_SET_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
            !strcmp(text, "1"))
            v = 1;
        else if (strcasecmp(text, "false") && strcasecmp(text, "no") && strcasecmp(text, "off") &&
                 strcmp(text, "0"))
            rc = -1;
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
    for (int i = 0; i < argc; i++) {
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
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0 || a[2] == '\0') {
            rest[(*nrest)++] = argv[i];
            continue;
        }
        char name[128];
        const char *eq = strchr(a + 2, '='), *value;
        snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)),
                 a + 2);
        if (strcmp(name, "config") == 0) {
            i += eq ? 0 : 1;
            continue;
        }
        sf_setting *s = sf_config_get(table, n, name);
        if (!s)
            return sf_error_set(err, SF_EUSAGE, "unknown option --%s", name);
        if (eq)
            value = eq + 1;
        else if (s->type == SF_SET_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "-", 1) == 0))
            value = "true";
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
        if (with_help)
            printf("# %s\n", table[i].help);
        printf("%s = %s  # %s\n", table[i].name, table[i].text ? table[i].text : "",
               source_name(table[i].source));
    }
}

void sf_config_usage(const sf_setting *table, int n)
{
    for (int i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", table[i].name,
                 table[i].type == SF_SET_BOOL ? "" : " V");
        printf("  %-22s %s", flag, table[i].help);
        if (table[i].def && *table[i].def)
            printf(" (default %s)", table[i].def);
        printf("\n");
    }
}
