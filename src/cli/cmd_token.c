/*
 * cmd_token.c - `shopflow token --data DIR --customer ID [--ttl 1h]`: print
 * a customer token (gateway/token.h) as the last line of output.
 *
 * The token is signed with the data folder's secret, so it is valid for the
 * servers of that folder only; it reads that customer's history and nothing
 * else, until it expires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/config.h"
#include "gateway/token.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var"),
    SF_CLI_ROW("customer", SF_SET_INT, "0", 0, 999999999, "the customer id the token reads"),
    SF_CLI_ROW("ttl", SF_SET_DURATION, "1h", 1000, 366LL * 86400 * 1000,
               "how long the token is valid"),
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

static int run_token(int argc, char **argv)
{
    sf_error err = {0};
    int status = sf_cli_settings(&sf_cmd_token, settings, NSETTINGS, argc, argv, 0, NULL, NULL);
    if (status != SF_CLI_GO)
        return status;
    const char *data = sf_cli_text("data");
    int64_t customer = sf_cli_num("customer");
    int64_t ttl_s = sf_cli_num("ttl") / 1000;
    status = SF_EXIT_OK;
    if (customer <= 0) {
        status = sf_cli_usage_error(&sf_cmd_token, "give --customer ID (a positive whole number)");
    } else {
        unsigned char secret[SF_TOKEN_SECRET_LEN];
        char *token = NULL;
        if (sf_cli_make_data_dir(data, &err) < 0 || sf_token_secret(data, secret, &err) < 0 ||
            sf_token_issue(secret, (int32_t)customer, ttl_s, &token, &err) < 0) {
            fprintf(stderr, "shopflow token: %s\n", err.msg);
            status = SF_EXIT_FAIL;
        } else {
            printf("token for customer %lld, valid %lld s:\n%s\n", (long long)customer,
                   (long long)ttl_s, token);
        }
        free(token);
    }
    sf_cli_settings_free();
    return status;
}

const sf_command sf_cmd_token = {
    "token",
    "print a customer token (reads one customer's purchase history)",
    "usage: shopflow token --data DIR --customer ID [--ttl 1h]\n"
    "\n"
    "Prints a JWT (HS256; sub = the customer id, exp = now + ttl) as the last line. Sent as\n"
    "Authorization: Bearer TOKEN it reads /v1/customers/ID/... and that customer's invoices,\n"
    "and nothing else. It is signed with DIR/token.secret (made on first use); replacing\n"
    "that file and restarting the server revokes every token issued before.\n"
    "\n",
    run_token,
};
