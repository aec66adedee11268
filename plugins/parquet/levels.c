/* Definition and repetition levels from Arrow arrays (Dremel encoding).
 *
 * For each top-level row, the path from the column down to the leaf is
 * walked: a null at some node ends the walk with that node's parent level;
 * a list repeats the walk below it once per element (an empty list is one
 * entry at the list's level); a leaf value is an entry at the leaf's level,
 * and its position is recorded for the value encoder. Flat columns take a
 * fast path straight from the validity bitmap. */
#include "levels.h"

static bool push_idx(pq_level_out *o, int64_t i)
{
    if (o->n_idx == o->cap_idx) {
        size_t cap = o->cap_idx ? 2 * o->cap_idx : 4096;
        int64_t *p = realloc(o->idx, cap * sizeof *p);
        if (p == NULL) {
            o->failed = true;
            return false;
        }
        o->idx = p;
        o->cap_idx = cap;
    }
    o->idx[o->n_idx++] = i;
    return true;
}

typedef struct walk {
    pq_node *const *path;
    int depth;
    pq_level_out *out;
} walk;

static void emit(walk *w, int rep, int def)
{
    if (w->out->def)
        pq_buf_byte(w->out->def, (uint8_t)def);
    if (w->out->rep)
        pq_buf_byte(w->out->rep, (uint8_t)rep);
    w->out->entries++;
}

static void visit(walk *w, int d, const struct ArrowArray *a, int64_t i, int rep)
{
    const pq_node *n = w->path[d];
    if (a == NULL || (a->null_count != 0 && !etl_arrow_is_valid(a, i))) {
        if (!n->optional)
            w->out->required_null = true;
        emit(w, rep, n->def - (n->optional ? 1 : 0));
        return;
    }
    switch (n->kind) {
    case PQ_NODE_LEAF:
        emit(w, rep, n->def);
        push_idx(w->out, i);
        return;
    case PQ_NODE_STRUCT: {
        /* A struct's offset shifts its children too. */
        const pq_node *kid = w->path[d + 1];
        visit(w, d + 1, kid->arr, i + a->offset, rep);
        return;
    }
    case PQ_NODE_LIST: {
        int64_t begin, end;
        etl_arrow_list_range(a, i, &begin, &end);
        if (begin >= end) {
            emit(w, rep, n->def);
            return;
        }
        const pq_node *elem = w->path[d + 1];
        for (int64_t j = begin; j < end; j++)
            visit(w, d + 1, elem->arr, j, j == begin ? rep : n->rep + 1);
        return;
    }
    case PQ_NODE_ROOT:
        return;
    }
}

/* A top-level leaf: def is the validity bit, there is no rep. */
static void flat_leaf(const pq_node *n, int64_t begin, int64_t end, pq_level_out *o)
{
    const struct ArrowArray *a = n->arr;
    int64_t count = end - begin;
    o->entries = count;
    if (a != NULL && (a->null_count == 0 || a->buffers[0] == NULL)) {
        if (o->def != NULL && pq_buf_reserve(o->def, (size_t)count)) {
            memset(o->def->data + o->def->len, 1, (size_t)count);
            o->def->len += (size_t)count;
        }
        o->dense = true;
        o->first = begin;
        return;
    }
    if (a == NULL) {
        if (o->def != NULL && pq_buf_reserve(o->def, (size_t)count)) {
            memset(o->def->data + o->def->len, 0, (size_t)count);
            o->def->len += (size_t)count;
        }
        if (!n->optional && count > 0)
            o->required_null = true;
        return;
    }
    if (!pq_buf_reserve(o->def, (size_t)count))
        return;
    uint8_t *def = o->def->data + o->def->len;
    const uint8_t *bits = a->buffers[0];
    for (int64_t i = begin; i < end; i++) {
        int64_t j = i + a->offset;
        uint8_t v = (uint8_t)((bits[j >> 3] >> (j & 7)) & 1);
        def[i - begin] = v;
        if (v && !push_idx(o, i))
            return;
    }
    o->def->len += (size_t)count;
    if (!n->optional && a->null_count > 0)
        o->required_null = true;
}

void pq_levels_compute(pq_node *const *path, int depth, int64_t row_begin, int64_t row_end,
                       pq_level_out *out)
{
    out->n_idx = 0;
    out->dense = false;
    out->entries = 0;
    if (depth == 1) {
        flat_leaf(path[0], row_begin, row_end, out);
        return;
    }
    walk w = {.path = path, .depth = depth, .out = out};
    for (int64_t r = row_begin; r < row_end && !out->failed; r++)
        visit(&w, 0, path[0]->arr, r, 0);
    if ((out->def && out->def->failed) || (out->rep && out->rep->failed))
        out->failed = true;
}

size_t pq_levels_backfill(const uint8_t *tmpl_def, const uint8_t *tmpl_rep, size_t n,
                          int rep_limit, int def_cap, pq_buf *def, pq_buf *rep)
{
    size_t added = 0;
    for (size_t k = 0; k < n; k++) {
        int r = tmpl_rep ? tmpl_rep[k] : 0;
        if (r > rep_limit)
            continue;
        int d = tmpl_def ? tmpl_def[k] : 0;
        if (def)
            pq_buf_byte(def, (uint8_t)(d < def_cap ? d : def_cap));
        if (rep)
            pq_buf_byte(rep, (uint8_t)r);
        added++;
    }
    return added;
}

void pq_level_out_free(pq_level_out *out)
{
    free(out->idx);
    out->idx = NULL;
    out->n_idx = out->cap_idx = 0;
}
