/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_lines.h: the line a request queues its generation in
 * (GenFlowLine, read by mod_genflow_config_lines.c). A user in a line of
 * weight w takes w turns of a provider's line for one of a standard
 * user's (the queue's statements keep the turns: core/gf_sql.c,
 * TAKE_TURN).
 */
#ifndef MOD_GENFLOW_LINES_H
#define MOD_GENFLOW_LINES_H

#include <httpd.h>

#include "httpd/config/mod_genflow_config.h"

/* The first of dc's lines whose expression is true for r, or NULL: the
 * standard line (weight 1). An expression that fails to evaluate counts
 * as false (logged). Cheap: no database, no network. */
const gf_line_t *gf_line_of(request_rec *r, const gf_dir_conf_t *dc);

/* The weight and the name a queue statement takes for line l. */
#define GF_LINE_WEIGHT(l) ((l) ? (l)->weight : 1)
#define GF_LINE_NAME(l) ((l) ? (l)->name : NULL)

#endif
