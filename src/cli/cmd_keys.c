/*
 * cmd_keys.c - `shopflow keys create|list|revoke`: manage the API keys of a
 * data folder (gateway/keys.h). A new key is printed once, as the last line
 * of output; only its hash is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/timefmt.h"
#include "gateway/keys.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var"),
    SF_CLI_ROW("role", SF_SET_STRING, "", 0, 0, "ingest, analyst or admin (create)"),
    SF_CLI_ROW("name", SF_SET_STRING, "", 0, 0, "a label for the key (create)"),
    SF_OPT_JSON("print JSON (list)"),
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

static int create(sf_keys *k)
{
    sf_role role = sf_role_parse(sf_cli_text("role"));
    if (role == SF_ROLE_NONE)
        return sf_cli_usage_error(&sf_cmd_keys, "--role must be ingest, analyst or admin");
    char key[SF_KEY_TEXT_LEN + 1];
    sf_key_info info;
    sf_error err = {0};
    if (sf_keys_create(k, role, sf_cli_text("name"), key, &info, &err) < 0) {
        fprintf(stderr, "shopflow keys: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    printf("created %s key %s%s%s (shown once; keep it safe):\n%s\n", sf_role_name(role), info.id,
           info.name[0] ? " " : "", info.name, key);
    return SF_EXIT_OK;
}

static int list(sf_keys *k)
{
    sf_key_info keys[1024];
    size_t n = sf_keys_list(k, keys, 1024);
    bool json = sf_cli_num("json");
    if (json)
        printf("[");
    else
        printf("%-12s  %-7s  %-19s  %-19s  %s\n", "id", "role", "created", "revoked", "name");
    for (size_t i = 0; i < n && i < 1024; i++) {
        char created[SF_TIME_TEXT_LEN + 1], revoked[SF_TIME_TEXT_LEN + 1] = "-";
        sf_time_format(keys[i].created, created);
        if (keys[i].revoked)
            sf_time_format(keys[i].revoked, revoked);
        if (json)
            printf("%s{\"id\":\"%s\",\"role\":\"%s\",\"created\":\"%s\",\"revoked\":%s%s%s,"
                   "\"name\":\"%s\"}",
                   i ? "," : "", keys[i].id, sf_role_name(keys[i].role), created,
                   keys[i].revoked ? "\"" : "", keys[i].revoked ? revoked : "null",
                   keys[i].revoked ? "\"" : "", keys[i].name);
        else
            printf("%-12s  %-7s  %-19s  %-19s  %s\n", keys[i].id, sf_role_name(keys[i].role),
                   created, revoked, keys[i].name);
    }
    if (json)
        printf("]\n");
    return SF_EXIT_OK;
}

static int run_keys(int argc, char **argv)
{
    char **rest;
    int nrest;
    sf_error err = {0};
    int status = sf_cli_settings(&sf_cmd_keys, settings, NSETTINGS, argc, argv, 2, &rest, &nrest);
    if (status != SF_CLI_GO)
        return status;
    status = SF_EXIT_USAGE;
    if (nrest == 0) {
        fputs(sf_cmd_keys.help, stdout);
        free(rest);
        sf_cli_settings_free();
        return status;
    }
    const char *verb = rest[0];
    sf_keys *k;
    if ((strcmp(verb, "create") == 0 && sf_cli_make_data_dir(sf_cli_text("data"), &err) < 0) ||
        sf_keys_open(sf_cli_text("data"), &k, &err) < 0) {
        fprintf(stderr, "shopflow keys: %s\n", err.msg);
        free(rest);
        return SF_EXIT_FAIL;
    }
    if (strcmp(verb, "create") == 0 && nrest == 1) {
        status = create(k);
    } else if (strcmp(verb, "list") == 0 && nrest == 1) {
        status = list(k);
    } else if (strcmp(verb, "revoke") == 0 && nrest == 2) {
        status = SF_EXIT_OK;
        if (sf_keys_revoke(k, rest[1], &err) < 0) {
            fprintf(stderr, "shopflow keys: %s\n", err.msg);
            status = SF_EXIT_FAIL;
        } else {
            printf("revoked %s\n", rest[1]);
        }
    } else {
        status = sf_cli_usage_error(&sf_cmd_keys, "say create, list or revoke ID");
    }
    sf_keys_close(k);
    free(rest);
    sf_cli_settings_free();
    return status;
}

const sf_command sf_cmd_keys = {
    "keys",
    "create, list and revoke API keys",
    "usage: shopflow keys create --data DIR --role ingest|analyst|admin [--name NAME]\n"
    "       shopflow keys list --data DIR [--json]\n"
    "       shopflow keys revoke --data DIR ID\n"
    "\n"
    "Keys authorise requests (Authorization: Bearer KEY). ingest keys may post transactions,\n"
    "analyst keys read purchase histories and BI, admin keys do both. create prints the new\n"
    "key as its last line, once: only its SHA-256 is stored (DIR/keys). A running server\n"
    "sees created and revoked keys within a second.\n",
    run_keys,
};
