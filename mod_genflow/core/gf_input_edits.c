/* SPDX-License-Identifier: Apache-2.0 */
/* gf_input_edits.c: the fields of an edit (see gf_input.h).
 *
 * A mask and reference pictures are uploads of the caller (POST
 * /api/uploads), named "upload:<uuid>": their bytes were decoded to
 * verify them when they were uploaded, so their rows know their format
 * and size, and a create checks all of it (the type takes them, they are
 * the caller's, the mask is a PNG the size of its source) before anything
 * is reserved. A URL is not taken here: nothing could check it without
 * fetching it from the request.
 */
#include <string.h>
#include <apr_strings.h>

#include "core/gf_input.h"

int gf_input_get_mask(apr_pool_t *p, json_object *v, gf_input_t *in, gf_input_error_t *err)
{
    return gf_input_upload_ref(p, v, "mask", &in->mask, err);
}

int gf_input_get_references(apr_pool_t *p, json_object *v, gf_input_t *in,
                            gf_input_error_t *err)
{
    const char **refs;
    size_t n, i, j;

    if (!json_object_is_type(v, json_type_array)) {
        return gf_input_fail(err, p, "referenceImages", "referenceImages must be an array of "
                             "upload references (upload:<uuid>)");
    }
    n = json_object_array_length(v);
    if (n == 0 || n > GF_REFERENCES_MAX) {
        return gf_input_fail(err, p, "referenceImages", "referenceImages must hold 1 to %d "
                             "pictures", GF_REFERENCES_MAX);
    }
    refs = apr_pcalloc(p, n * sizeof(*refs));
    for (i = 0; i < n; i++) {
        const char *field = apr_psprintf(p, "referenceImages[%d]", (int)i);
        if (!gf_input_upload_ref(p, json_object_array_get_idx(v, i), field, &refs[i], err)) {
            return 0;
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(refs[i], refs[j])) {
                return gf_input_fail(err, p, field, "%s repeats referenceImages[%d]",
                                     field, (int)j);
            }
        }
    }
    in->references = refs;
    in->n_references = (int)n;
    return 1;
}

int gf_input_edits_consistent(apr_pool_t *p, const gf_input_t *in, gf_input_error_t *err)
{
    if (in->mask && !gf_input_upload_id(in->source_image)) {
        return gf_input_fail(err, p, "mask", "mask: a mask marks what to change in a "
                             "sourceImage that is an upload (upload:<uuid>); give one");
    }
    return 1;
}

void gf_input_edits_to_json(json_object *o, const gf_input_t *in)
{
    int i;
    if (in->mask) json_object_object_add(o, "mask", json_object_new_string(in->mask));
    if (in->n_references > 0) {
        json_object *a = json_object_new_array();
        for (i = 0; i < in->n_references; i++) {
            json_object_array_add(a, json_object_new_string(in->references[i]));
        }
        json_object_object_add(o, "referenceImages", a);
    }
}

int gf_input_edits_accepted(apr_pool_t *p, const gf_input_t *in, unsigned accepts,
                            int max_references, gf_input_error_t *err)
{
    if (in->mask && !(accepts & GF_ACCEPT_MASK)) {
        return gf_input_fail(err, p, "mask", "mask: this type takes no mask (GenFlowAccept)");
    }
    if (in->n_references > 0 && !(accepts & GF_ACCEPT_REFERENCES)) {
        return gf_input_fail(err, p, "referenceImages", "referenceImages: this type takes no "
                             "reference pictures (GenFlowAccept)");
    }
    if (in->n_references > max_references) {
        return gf_input_fail(err, p, "referenceImages", "referenceImages: this type takes at "
                             "most %d (GenFlowMaxReferences)", max_references);
    }
    return 1;
}

const char *gf_input_edit_upload_ids(apr_pool_t *p, const gf_input_t *in)
{
    const char *ids = gf_input_upload_id(in->source_image);
    int i;

    if (!in->mask && in->n_references == 0) return NULL;
    if (in->mask) {
        ids = ids ? apr_pstrcat(p, ids, ",", gf_input_upload_id(in->mask), NULL)
                  : gf_input_upload_id(in->mask);
    }
    for (i = 0; i < in->n_references; i++) {
        const char *id = gf_input_upload_id(in->references[i]);
        ids = ids ? apr_pstrcat(p, ids, ",", id, NULL) : id;
    }
    return ids;
}

const char *gf_input_picture_upload_ids(apr_pool_t *p, const gf_input_t *in)
{
    const char *ids = gf_input_upload_id(in->source_image);
    int i;

    for (i = 0; i < in->n_references; i++) {
        const char *id = gf_input_upload_id(in->references[i]);
        ids = ids ? apr_pstrcat(p, ids, ",", id, NULL) : id;
    }
    return ids;
}

static const gf_upload_info_t *find_upload(const char *ref, const gf_upload_info_t *ups, int n)
{
    const char *id = gf_input_upload_id(ref);
    int i;
    for (i = 0; id && i < n; i++) {
        if (ups[i].id && !strcmp(ups[i].id, id)) return &ups[i];
    }
    return NULL;
}

static int not_yours(apr_pool_t *p, const char *field, gf_input_error_t *err)
{
    return gf_input_fail(err, p, field, "%s: no upload of yours has this id (upload it with "
                         "POST /api/uploads and use its sourceImage)", field);
}

int gf_input_edit_uploads_ok(apr_pool_t *p, const gf_input_t *in, const gf_upload_info_t *ups,
                             int n, gf_input_error_t *err)
{
    const gf_upload_info_t *src = find_upload(in->source_image, ups, n), *mask;
    int i;

    if (gf_input_upload_id(in->source_image) && !src) return not_yours(p, "sourceImage", err);
    if (in->mask) {
        if (!(mask = find_upload(in->mask, ups, n))) return not_yours(p, "mask", err);
        if (!mask->content_type || strcmp(mask->content_type, "image/png")) {
            return gf_input_fail(err, p, "mask", "mask must be a PNG (this upload is %s)",
                                 mask->content_type ? mask->content_type : "not a picture");
        }
        if (mask->width != src->width || mask->height != src->height) {
            return gf_input_fail(err, p, "mask", "mask is %ux%u: it must be the size of "
                                 "sourceImage, %ux%u", mask->width, mask->height,
                                 src->width, src->height);
        }
    }
    for (i = 0; i < in->n_references; i++) {
        if (!find_upload(in->references[i], ups, n)) {
            return not_yours(p, apr_psprintf(p, "referenceImages[%d]", i), err);
        }
    }
    return 1;
}

int gf_input_accept_from_word(const char *word, unsigned *accept)
{
    if (!strcmp(word, "mask"))                 *accept = GF_ACCEPT_MASK;
    else if (!strcmp(word, "referenceImages")) *accept = GF_ACCEPT_REFERENCES;
    else return 0;
    return 1;
}
