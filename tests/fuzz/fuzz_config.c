/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_config: the core parsers behind the configuration directives.
 *
 * mod_genflow_config.c (httpd glue: cmd_parms, server_rec) cannot be
 * linked without httpd; its directive handlers split the arguments (with
 * httpd's own tokenizer, not fuzzed here) and call these core parsers,
 * which this target drives with one directive per line:
 *   provider NAME KIND key=value …   gf_provider_create + gf_provider_option
 *                                    (the network kinds' options, gf_provider_net.c,
 *                                    and a webhook_keys_file's JWKS or key lines)
 *   chain a,b:model …                gf_chain_parse / gf_chain_entry_parse
 *   amount VALUE MAX                 gf_parse_amount (every numeric directive)
 *   require WORD …                   gf_input_need_from_word
 *   template TEXT                    gf_prompt_check_template
 *   cloudinary key=value …           gf_storage_cloudinary_create
 *   type NAME TABLE                  gf_sql_valid_type / gf_sql_valid_table
 * An option naming a file (key_file=, webhook_keys_file=, secret_file=, …)
 * reads a scratch file holding the part of the input after a line "~~~",
 * never the path the input names. The environment variable FUZZ_SECRET is
 * set, so key_env=FUZZ_SECRET succeeds.
 * Not covered: the glue's own checks (context, duplicate types, merging).
 *
 * Properties: a parse that succeeds stays in range (amounts 0..MAX, chain
 * entries with a valid provider name and a non-empty model, network
 * timeouts and caps as documented); every error is a non-empty message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_common.h"
#include "providers/gf_provider.h"
#include "providers/gf_provider_net.h"
#include "core/gf_credits.h"
#include "core/gf_input.h"
#include "core/gf_prompt.h"
#include "storage/gf_storage.h"
#include "core/gf_sql.h"

static char scratch[64];

static void remove_scratch(void)
{
    if (*scratch) unlink(scratch);
}

static const char *scratch_path(void)
{
    if (!*scratch) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof(scratch), "%s/genflow-fuzz-config.%ld",
                 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp", (long)getpid());
        atexit(remove_scratch);
    }
    return scratch;
}

static void write_scratch(const char *text, size_t len)
{
    FILE *f = fopen(scratch_path(), "wb");
    if (!f) abort();
    fwrite(text, 1, len, f);
    fclose(f);
}

/* "x_file=…" reads the scratch file instead. */
static char *file_option(apr_pool_t *p, char *arg, int *uses_file)
{
    char *eq = strchr(arg, '=');
    if (eq && eq - arg >= 5 && !strncmp(eq - 5, "_file", 5)) {
        *uses_file = 1;
        return apr_pstrcat(p, apr_pstrmemdup(p, arg, (apr_size_t)(eq - arg + 1)), scratch_path(),
                           NULL);
    }
    return arg;
}

static void check_err(const char *err)
{
    FUZZ_CHECK(err == NULL || *err);
}

static int is_net(const gf_provider_t *prov)
{
    return strcmp(prov->kind->kind, "local") != 0;
}

static void directive(apr_pool_t *p, int argc, char **argv, const char *file, size_t file_len)
{
    const char *err = NULL;
    int i, uses_file = 0;

    if (!strcmp(argv[0], "provider") && argc >= 3) {
        gf_provider_t *prov = gf_provider_create(p, argv[1], argv[2], &err);
        if (!prov) {
            check_err(err);
            FUZZ_CHECK(err);
            return;
        }
        for (i = 3; i < argc; i++) {
            char *opt = file_option(p, argv[i], &uses_file);
            if (uses_file) write_scratch(file, file_len);
            err = gf_provider_option(p, prov, opt);
            check_err(err);
            if (err) break;
        }
        if (!err && is_net(prov) && prov->impl) {
            const gf_net_settings_t *ns = prov->impl;
            FUZZ_CHECK(ns->base_url && ns->timeout_ms >= 0 && ns->timeout_ms <= 1000000000L);
            FUZZ_CHECK(ns->connect_timeout_ms >= 0 && ns->connect_timeout_ms <= 1000000000L);
            FUZZ_CHECK(ns->prefer_wait >= -1 && ns->prefer_wait <= 60);
            FUZZ_CHECK(ns->webhook_poll_secs >= 0 && ns->webhook_poll_secs <= 3600);
            FUZZ_CHECK(!ns->webhook_keys || ns->webhook_keys->nelts > 0);
            FUZZ_CHECK(gf_provider_worst_attempt(prov) >= 0);
        }
        return;
    }
    if (!strcmp(argv[0], "chain") && argc >= 2) {
        for (i = 1; i < argc; i++) {
            apr_array_header_t *chain = gf_chain_parse(p, argv[i], &err);
            gf_chain_entry_t e;
            int k;
            if (!chain) {
                FUZZ_CHECK(err && *err);
            }
            else {
                for (k = 0; k < chain->nelts; k++) {
                    const gf_chain_entry_t *c = &APR_ARRAY_IDX(chain, k, gf_chain_entry_t);
                    FUZZ_CHECK(c->provider && *c->provider && !strchr(c->provider, ':'));
                    FUZZ_CHECK(!c->model || *c->model);
                }
            }
            err = gf_chain_entry_parse(p, argv[i], &e);
            check_err(err);
            if (!err) FUZZ_CHECK(*e.provider && (!e.model || *e.model));
        }
        return;
    }
    if (!strcmp(argv[0], "amount") && argc >= 2) {
        long max = argc >= 3 ? strtol(argv[2], NULL, 10) : GF_CREDITS_MAX, v = -1;
        if (max < 0) max = 0;
        err = gf_parse_amount(p, argv[1], max, &v);
        check_err(err);
        if (!err) FUZZ_CHECK(v >= 0 && v <= max);
        return;
    }
    if (!strcmp(argv[0], "require")) {
        for (i = 1; i < argc; i++) {
            unsigned need = 0;
            if (gf_input_need_from_word(argv[i], &need)) {
                FUZZ_CHECK(need == GF_NEED_PROMPT || need == GF_NEED_SOURCE_IMAGE
                           || need == GF_NEED_PRESET);
            }
        }
        return;
    }
    if (!strcmp(argv[0], "template") && argc >= 2) {
        check_err(gf_prompt_check_template(p, argv[1]));
        return;
    }
    if (!strcmp(argv[0], "cloudinary")) {
        gf_storage_t *st = NULL;
        char **args = apr_palloc(p, sizeof(char *) * (size_t)(argc ? argc : 1));
        for (i = 1; i < argc; i++) args[i - 1] = file_option(p, argv[i], &uses_file);
        if (uses_file) write_scratch(file, file_len);
        err = gf_storage_cloudinary_create(p, argc - 1, args, &st);
        check_err(err);
        if (!err) FUZZ_CHECK(st && st->put && st->worst_put > 0);
        return;
    }
    if (!strcmp(argv[0], "type") && argc >= 3) {
        if (gf_sql_valid_type(argv[1])) FUZZ_CHECK(strlen(argv[1]) >= 1 && strlen(argv[1]) <= 63);
        if (gf_sql_valid_table(argv[2])) {
            FUZZ_CHECK(strlen(argv[2]) >= 1 && strlen(argv[2]) <= 63);
        }
        return;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    setenv("FUZZ_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *f[2], *line, *last = NULL;
    size_t lens[2];

    fuzz_fields(p, data, size, "\n~~~\n", 2, f, lens);
    for (line = apr_strtok(f[0], "\n", &last); line; line = apr_strtok(NULL, "\n", &last)) {
        char *argv[32], *tok, *wlast = NULL;
        int argc = 0;
        for (tok = apr_strtok(line, " \t", &wlast); tok && argc < 32;
             tok = apr_strtok(NULL, " \t", &wlast)) {
            argv[argc++] = tok;
        }
        if (argc) directive(p, argc, argv, f[1], lens[1]);
    }
    fuzz_pool_end(p);
    return 0;
}
