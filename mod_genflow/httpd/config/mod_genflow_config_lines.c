/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_lines.c: GenFlowLine, read at startup.
 *
 *   GenFlowLine NAME "EXPR" [weight=N]
 *   GenFlowLine none
 *
 * In the server, a virtual host or a <Location>, any number, tried in
 * order when a generation is queued (mod_genflow_lines.c). A location
 * with lines of its own uses those alone; one without inherits its
 * parent's; "none" ends a parent's. EXPR is an ap_expr (the language of
 * <If> and Require expr), parsed here: one that does not parse stops the
 * start, naming the line.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "httpd/config/mod_genflow_config_int.h"
#include "httpd/config/mod_genflow_private.h"

#define LINE_ERROR(cmd, msg) \
    apr_psprintf((cmd)->pool, "%s: %s", (cmd)->directive->directive, (msg))

/* A line's name: a metric's label and a log's word. "standard" is the
 * name of no line, "other" the metrics' overflow, "none" the directive's
 * own word. */
static int valid_name(const char *s)
{
    apr_size_t n = strlen(s), i;
    if (n < 1 || n > 32 || !apr_islower(s[0])) return 0;
    for (i = 1; i < n; i++) {
        if (!apr_islower(s[i]) && !apr_isdigit(s[i]) && s[i] != '-' && s[i] != '_') return 0;
    }
    return strcmp(s, "standard") && strcmp(s, "other") && strcmp(s, "none");
}

static const char *parse_weight(cmd_parms *cmd, const char *arg, int *weight)
{
    char *end;
    long v;
    if (strncmp(arg, "weight=", 7)) {
        return LINE_ERROR(cmd, apr_psprintf(cmd->pool, "'%s': the third word is weight=N", arg));
    }
    v = strtol(arg + 7, &end, 10);
    if (end == arg + 7 || *end || v < 1 || v > GF_LINE_WEIGHT_MAX) {
        return LINE_ERROR(cmd, apr_psprintf(cmd->pool, "'%s': a weight is a whole number "
                                            "from 1 to %d", arg, GF_LINE_WEIGHT_MAX));
    }
    *weight = (int)v;
    return NULL;
}

const char *gf_conf_add_line(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    gf_line_t *l;
    const char *err = NULL;
    int i, weight = GF_LINE_WEIGHT_DEFAULT;

    if (argc == 1 && !strcasecmp(argv[0], "none")) {
        if (dc->lines) return LINE_ERROR(cmd, "none, and lines, in one place");
        dc->lines = apr_array_make(cmd->pool, 1, sizeof(gf_line_t));
        return NULL;
    }
    if (argc < 2 || argc > 3) {
        return LINE_ERROR(cmd, "NAME \"EXPR\" [weight=N], or none");
    }
    if (!valid_name(argv[0])) {
        return LINE_ERROR(cmd, apr_psprintf(cmd->pool, "'%s': a name is 1 to 32 of a-z, 0-9, "
                                            "'-' and '_', starting with a letter (not "
                                            "standard, other or none)", argv[0]));
    }
    if (argc == 3 && (err = parse_weight(cmd, argv[2], &weight)) != NULL) return err;
    if (dc->lines && dc->lines->nelts == 0) {
        return LINE_ERROR(cmd, "none, and lines, in one place");
    }
    for (i = 0; dc->lines && i < dc->lines->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(dc->lines, i, gf_line_t).name, argv[0])) {
            return LINE_ERROR(cmd, apr_psprintf(cmd->pool, "'%s' twice in one place", argv[0]));
        }
    }
    if (!dc->lines) dc->lines = apr_array_make(cmd->pool, 2, sizeof(gf_line_t));
    l = apr_array_push(dc->lines);
    l->name = apr_pstrdup(cmd->pool, argv[0]);
    l->weight = weight;
    l->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    l->expr = ap_expr_parse_cmd(cmd, argv[1], 0, &err, NULL);
    if (err || !l->expr) {
        return LINE_ERROR(cmd, apr_psprintf(cmd->pool, "%s: the expression does not parse: %s",
                                            argv[0], err ? err : "?"));
    }
    gf_conf_line_name_add(cmd->pool, l->name);
    return NULL;
}
