/* SPDX-License-Identifier: Apache-2.0 */
/* gf_builtin.h: the five types that ship configured, each with what it
 * costs, what its create needs and its prompt template, in one table
 * (gf_builtin.c): a type a site mounts under one of these names gets these
 * defaults; its <Location> may override each. */
#ifndef GF_BUILTIN_H
#define GF_BUILTIN_H

typedef struct {
    const char *name;            /* "neo-glitch" */
    long cost;                   /* credits a generation reserves */
    unsigned needs;              /* GF_NEED_* (core/gf_input.h) */
    const char *tmpl;            /* its prompt template (core/gf_prompt.h) */
} gf_builtin_type_t;

/* The shipped type of this name, or NULL. */
const gf_builtin_type_t *gf_builtin_type(const char *name);

#endif
