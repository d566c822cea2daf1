/*
 * aws_config.c - where an AWS client signs and sends: credentials, region and
 * endpoint read as the AWS SDKs and the aws CLI read them (aws.h has the
 * order), so a machine already set up for the aws CLI needs nothing more.
 *
 * The shared files are read by a small INI reader of our own: `[section]`
 * lines, `key = value` lines, '#' and ';' comments, and indented lines (the
 * CLI's nested service settings) skipped. Profiles that get their
 * credentials from elsewhere (roles, SSO, a process) are recognised and
 * refused with a message, never half-read.
 *
 * The secret key and token go only into the config and from there only into
 * libcurl; no message built here names them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/aws.h"

static const struct {
    const char *name, *signing, *env;
} services[] = {
    [SF_AWS_S3] = {"S3", "s3", "AWS_ENDPOINT_URL_S3"},
    [SF_AWS_DYNAMODB] = {"DynamoDB", "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"},
    [SF_AWS_KINESIS] = {"Kinesis", "kinesis", "AWS_ENDPOINT_URL_KINESIS"},
};

const char *sf_aws_service_name(sf_aws_service s)
{
    return (unsigned)s < sizeof services / sizeof services[0] ? services[s].name : "AWS";
}

/* memset through a volatile pointer: a wipe before free() is not optimised away. */
static void *(*const volatile wipe)(void *, int, size_t) = memset;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The values of one profile, as far as the files give them. */
typedef struct profile {
    char key_id[SF_AWS_KEY_ID_MAX];
    char secret[SF_AWS_SECRET_MAX];
    char *token;
    char region[SF_AWS_REGION_MAX];
    char elsewhere[64]; /* "role_arn", "sso_start_url", ...: credentials we do not read */
    bool found;         /* the section exists */
} profile;

static void trim(char **s, char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

static bool is_elsewhere(const char *key)
{
    static const char *const keys[] = {"role_arn",           "credential_source",
                                       "credential_process", "sso_start_url",
                                       "sso_session",        "web_identity_token_file"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

static int set_value(profile *p, const char *key, const char *val, const char *path, sf_error *err)
{
    size_t n = strlen(val);
    if (strcmp(key, "aws_access_key_id") == 0 && !p->key_id[0]) {
        if (n >= sizeof p->key_id)
            return sf_error_set(err, SF_EUSAGE, "%s: aws_access_key_id is too long", path);
        memcpy(p->key_id, val, n + 1);
    } else if (strcmp(key, "aws_secret_access_key") == 0 && !p->secret[0]) {
        if (n >= sizeof p->secret)
            return sf_error_set(err, SF_EUSAGE, "%s: aws_secret_access_key is too long", path);
        memcpy(p->secret, val, n + 1);
    } else if (strcmp(key, "aws_session_token") == 0 && !p->token) {
        if (!(p->token = strdup(val)))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
    } else if (strcmp(key, "region") == 0 && !p->region[0]) {
        if (n >= sizeof p->region)
            return sf_error_set(err, SF_EUSAGE, "%s: region '%.64s' is too long", path, val);
        memcpy(p->region, val, n + 1);
    } else if (is_elsewhere(key) && !p->elsewhere[0]) {
        snprintf(p->elsewhere, sizeof p->elsewhere, "%s", key);
    }
    return 0;
}

/* Read section `want` (or `alt`, when not NULL) of the INI file at path into
 * *p, keeping values already there. An absent file is no error. */
static int read_ini(const char *path, const char *want, const char *alt, profile *p, sf_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    bool in = false;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *s = line, *e = line + strlen(line);
        if (isspace((unsigned char)*s) && *s != '\n' && *s != '\r')
            continue; /* a nested setting ("s3 =\n  addressing_style = path") */
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';')
            continue;
        *e = '\0';
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close)
                continue;
            char *ns = s + 1, *ne = close;
            trim(&ns, &ne);
            *ne = '\0';
            in = strcmp(ns, want) == 0 || (alt && strcmp(ns, alt) == 0);
            p->found |= in;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in || !eq)
            continue;
        char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        *ke = '\0';
        *ve = '\0';
        rc = set_value(p, ks, vs, path, err);
    }
    fclose(f);
    return rc;
}

static void path_of(char *out, size_t cap, const char *var, const char *home_rel)
{
    const char *v = env(var), *home = env("HOME");
    if (v)
        snprintf(out, cap, "%s", v);
    else
        snprintf(out, cap, "%s/%s", home ? home : ".", home_rel);
}

static int copy_text(char *dst, size_t cap, const char *src, const char *what, sf_error *err)
{
    size_t n = strlen(src);
    if (n >= cap)
        return sf_error_set(err, SF_EUSAGE, "%s is too long (%zu bytes; at most %zu)", what, n,
                            cap - 1);
    memcpy(dst, src, n + 1);
    return 0;
}

/* Credentials and region from the environment and the profile. */
static int load_credentials(sf_aws_config *c, profile *p, const char *name, const char *cred_path,
                            const char *conf_path, sf_error *err)
{
    const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    if (id && secret) {
        if (copy_text(c->access_key_id, sizeof c->access_key_id, id, "AWS_ACCESS_KEY_ID", err) ||
            copy_text(c->secret_access_key, sizeof c->secret_access_key, secret,
                      "AWS_SECRET_ACCESS_KEY", err) ||
            sf_aws_config_set_token(c, env("AWS_SESSION_TOKEN"), err))
            return err ? err->code : SF_EUSAGE;
        snprintf(c->credentials_from, sizeof c->credentials_from,
                 "the environment (AWS_ACCESS_KEY_ID)");
        return 0;
    }
    if (id || secret)
        return sf_error_set(err, SF_EPERM,
                            "no AWS credentials for %s: %s is set but %s is not (set both, or "
                            "neither to use profile '%s')",
                            services[c->service].name,
                            id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                            id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID", name);
    if (p->key_id[0] && p->secret[0]) {
        if (copy_text(c->access_key_id, sizeof c->access_key_id, p->key_id, "aws_access_key_id",
                      err) ||
            copy_text(c->secret_access_key, sizeof c->secret_access_key, p->secret,
                      "aws_secret_access_key", err))
            return err ? err->code : SF_EUSAGE;
        c->session_token = p->token;
        p->token = NULL;
        snprintf(c->credentials_from, sizeof c->credentials_from,
                 "profile '%.64s' (%.110s or %.110s)", name, cred_path, conf_path);
        return 0;
    }
    if (p->elsewhere[0])
        return sf_error_set(err, SF_EPERM,
                            "no AWS credentials for %s: profile '%s' gets them through %s, which "
                            "shopflow does not read; export AWS_ACCESS_KEY_ID, "
                            "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (e.g. from `aws "
                            "configure export-credentials --format env`)",
                            services[c->service].name, name, p->elsewhere);
    if (!p->found && env("AWS_PROFILE"))
        return sf_error_set(err, SF_EPERM,
                            "no AWS credentials for %s: AWS_PROFILE names profile '%s', which "
                            "is in neither %s nor %s",
                            services[c->service].name, name, cred_path, conf_path);
    return sf_error_set(err, SF_EPERM,
                        "no AWS credentials for %s: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                        "are not set, and profile '%s' has no aws_access_key_id and "
                        "aws_secret_access_key in %s or %s",
                        services[c->service].name, name, cred_path, conf_path);
}

static bool valid_region(const char *r)
{
    for (; *r; r++)
        if (!islower((unsigned char)*r) && !isdigit((unsigned char)*r) && *r != '-')
            return false;
    return true;
}

static int load_region(sf_aws_config *c, const profile *p, const char *name, const char *conf_path,
                       sf_error *err)
{
    const char *r = env("AWS_REGION"), *from = "AWS_REGION";
    if (!r)
        r = env("AWS_DEFAULT_REGION"), from = "AWS_DEFAULT_REGION";
    if (r)
        snprintf(c->region_from, sizeof c->region_from, "the environment (%s)", from);
    else if (p->region[0]) {
        r = p->region;
        snprintf(c->region_from, sizeof c->region_from, "profile '%.64s' (%.240s)", name,
                 conf_path);
    } else
        return sf_error_set(err, SF_EUSAGE,
                            "no AWS region for %s: set AWS_REGION (or AWS_DEFAULT_REGION), or "
                            "region in profile '%s' of %s",
                            services[c->service].name, name, conf_path);
    if (!*r || !valid_region(r))
        return sf_error_set(err, SF_EUSAGE, "AWS region '%.64s' from %s is not a region name", r,
                            c->region_from);
    return copy_text(c->region, sizeof c->region, r, "the AWS region", err);
}

int sf_aws_default_endpoint(sf_aws_service service, const char *region, char *out, size_t cap,
                            sf_error *err)
{
    if ((unsigned)service >= sizeof services / sizeof services[0] || !region || !*region)
        return sf_error_set(err, SF_EINVAL, "no AWS service or region for an endpoint");
    bool cn = strncmp(region, "cn-", 3) == 0;
    int n = snprintf(out, cap, "https://%s.%s.amazonaws.com%s", services[service].signing, region,
                     cn ? ".cn" : "");
    if (n < 0 || (size_t)n >= cap)
        return sf_error_set(err, SF_EUSAGE, "the endpoint for region '%.64s' is too long", region);
    return 0;
}

static int load_endpoint(sf_aws_config *c, sf_error *err)
{
    const char *ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    bool ign = ignore && (strcmp(ignore, "true") == 0 || strcmp(ignore, "TRUE") == 0);
    const char *var = services[c->service].env, *url = ign ? NULL : env(var);
    if (!url && !ign)
        var = "AWS_ENDPOINT_URL", url = env(var);
    if (!url) {
        snprintf(c->endpoint_from, sizeof c->endpoint_from, "the default for region %s", c->region);
        return sf_aws_default_endpoint(c->service, c->region, c->endpoint, sizeof c->endpoint, err);
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return sf_error_set(err, SF_EUSAGE, "%s '%.200s' is not an http:// or https:// URL", var,
                            url);
    if (copy_text(c->endpoint, sizeof c->endpoint, url, var, err))
        return err ? err->code : SF_EUSAGE;
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    c->endpoint_from_env = true;
    snprintf(c->endpoint_from, sizeof c->endpoint_from, "the environment (%s)", var);
    return 0;
}

int sf_aws_config_load(sf_aws_config *c, sf_aws_service service, sf_error *err)
{
    memset(c, 0, sizeof *c);
    if ((unsigned)service >= sizeof services / sizeof services[0])
        return sf_error_set(err, SF_EINVAL, "unknown AWS service %d", (int)service);
    c->service = service;
    snprintf(c->signing_name, sizeof c->signing_name, "%s", services[service].signing);

    const char *name = env("AWS_PROFILE");
    if (!name)
        name = "default";
    char cred_path[1024], conf_path[1024], section[300];
    path_of(cred_path, sizeof cred_path, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    path_of(conf_path, sizeof conf_path, "AWS_CONFIG_FILE", ".aws/config");
    snprintf(section, sizeof section, "profile %s", name);

    profile p = {0};
    int rc = read_ini(cred_path, name, NULL, &p, err);
    if (rc == 0)
        rc = read_ini(conf_path, section, strcmp(name, "default") == 0 ? "default" : NULL, &p, err);
    if (rc == 0)
        rc = load_credentials(c, &p, name, cred_path, conf_path, err);
    if (rc == 0)
        rc = load_region(c, &p, name, conf_path, err);
    if (rc == 0)
        rc = load_endpoint(c, err);
    if (p.token)
        wipe(p.token, 0, strlen(p.token));
    free(p.token);
    wipe(&p, 0, sizeof p);
    if (rc != 0)
        sf_aws_config_free(c);
    return rc;
}

int sf_aws_config_set_token(sf_aws_config *c, const char *token, sf_error *err)
{
    char *t = NULL;
    if (token && !(t = strdup(token)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (c->session_token) {
        wipe(c->session_token, 0, strlen(c->session_token));
        free(c->session_token);
    }
    c->session_token = t;
    return 0;
}

void sf_aws_config_free(sf_aws_config *c)
{
    if (!c)
        return;
    sf_aws_config_set_token(c, NULL, NULL);
    wipe(c->secret_access_key, 0, sizeof c->secret_access_key);
}
