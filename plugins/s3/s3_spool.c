/* An S3 object streamed part by part (s3_spool.h). */
#include "s3_spool.h"

#include <stdio.h>

#define MIN_BUFFER (64 * 1024)
#define COPY_SLICE (32 * 1024)

void s3_spool_init(s3_spool *sp, s3_client *c, const s3_upload_options *o)
{
    memset(sp, 0, sizeof *sp);
    sp->client = c;
    sp->opts = o;
    sp->crc_valid = true;
}

void s3_spool_name(s3_spool *sp, char *key)
{
    s3_host->free(sp->upload.key);
    sp->upload.key = key;
    sp->streaming = true;
}

static size_t pending(const s3_spool *sp) { return sp->len - sp->start; }

static size_t part_size(const s3_spool *sp) { return (size_t)sp->opts->part_size; }

static etl_status nomem(s3_spool *sp)
{
    return s3_host->set_error(sp->client->ctx, ETL_ERR_NOMEM, 0, "S3 sink: out of memory");
}

/* Room for `more` bytes after the pending ones. While streaming the buffer
 * grows to a part and stays there; unnamed, it holds the whole object. */
static bool reserve(s3_spool *sp, size_t more)
{
    if (sp->start > 0) {
        memmove(sp->data, sp->data + sp->start, pending(sp));
        sp->len -= sp->start;
        sp->start = 0;
    }
    size_t need = sp->len + more;
    if (need <= sp->cap)
        return true;
    size_t cap = sp->cap * 2 > need ? sp->cap * 2 : need;
    cap = cap < MIN_BUFFER ? MIN_BUFFER : cap;
    if (sp->streaming && !sp->stalled && cap > part_size(sp))
        cap = need > part_size(sp) ? need : part_size(sp);
    char *grown = s3_host->realloc(sp->data, cap);
    if (grown == NULL)
        return false;
    sp->data = grown;
    sp->cap = cap;
    return true;
}

static etl_status append(s3_spool *sp, const char *data, size_t len)
{
    if (!reserve(sp, len))
        return nomem(sp);
    bool checksum = sp->crc_valid && sp->opts->crc32c;
    /* Copied and checksummed a slice at a time, so that the CRC reads the
     * slice from the L1 cache the copy just filled. */
    for (size_t done = 0; done < len;) {
        size_t n = len - done < COPY_SLICE ? len - done : COPY_SLICE;
        memcpy(sp->data + sp->len, data + done, n);
        if (checksum)
            sp->crc = s3_crc32c(sp->crc, sp->data + sp->len, n);
        sp->len += n;
        done += n;
    }
    return ETL_OK;
}

/* Part parts_done + 1 from `data`: more bytes follow it, so at most
 * S3_MAX_PARTS - 1 such parts. */
static etl_status send_part(s3_spool *sp, const char *data, size_t len, const uint32_t *crc)
{
    s3_upload *u = &sp->upload;
    if (u->parts_done + 1 >= S3_MAX_PARTS)
        return s3_host->set_error(sp->client->ctx, ETL_ERR_CONFIG, 0,
                                  "S3 sink: s3://%s/%s needs more than %d parts of %lld bytes "
                                  "(S3's limit): raise part_size or checkpoint more often",
                                  sp->client->bucket, u->key, S3_MAX_PARTS,
                                  (long long)sp->opts->part_size);
    return s3_upload_part(sp->client, u, sp->opts, data, len, crc);
}

/* The first part_size pending bytes, followed by more. */
static etl_status send_front_part(s3_spool *sp)
{
    size_t n = part_size(sp);
    bool whole = pending(sp) == n;
    uint32_t crc = sp->crc;
    etl_status st = send_part(sp, sp->data + sp->start, n,
                              whole && sp->crc_valid && sp->opts->crc32c ? &crc : NULL);
    if (st != ETL_OK)
        return st;
    sp->start += n;
    if (sp->start == sp->len) {
        sp->start = sp->len = 0;
        sp->crc = 0;
        sp->crc_valid = true;
    } else {
        sp->crc_valid = false;   /* the rest's CRC is computed when it is sent */
    }
    return ETL_OK;
}

/* A part failed with ETL_ERR_RETRY inside the writer's call: keep its bytes
 * (with all that follows) for s3_spool_flush. */
static etl_status hold_back(s3_spool *sp, etl_status st)
{
    if (st != ETL_ERR_RETRY)
        return st;
    sp->stalled = true;
    s3_host->log(sp->client->ctx, ETL_LOG_WARN,
                 "part %d of s3://%s/%s is kept in memory and sent again at the next write or "
                 "at the commit", sp->upload.parts_done + 1, sp->client->bucket,
                 sp->upload.key);
    return ETL_OK;
}

etl_status s3_spool_write(s3_spool *sp, const void *data, size_t len)
{
    const char *p = data;
    size_t ps = part_size(sp);
    sp->size += (int64_t)len;
    while (len > 0) {
        bool sending = sp->streaming && !sp->stalled;
        etl_status st = ETL_OK;
        if (sending && pending(sp) >= ps) {
            st = hold_back(sp, send_front_part(sp));
        } else if (sending && pending(sp) == 0 && len > ps) {
            /* A part straight from the writer's buffer: no copy. */
            st = send_part(sp, p, ps, NULL);
            if (st == ETL_OK) {
                p += ps;
                len -= ps;
            } else {
                st = hold_back(sp, st);
            }
        } else {
            size_t n = sending && ps - pending(sp) < len ? ps - pending(sp) : len;
            st = append(sp, p, n);
            p += n;
            len -= n;
        }
        if (st != ETL_OK)
            return st;
    }
    return ETL_OK;
}

etl_status s3_spool_flush(s3_spool *sp)
{
    etl_status st = ETL_OK;
    while (st == ETL_OK && sp->streaming && pending(sp) > part_size(sp))
        st = send_front_part(sp);
    sp->stalled = st != ETL_OK;
    return st;
}

/* The commit names the object: the name chosen while writing must match. */
static etl_status settle_key(s3_spool *sp, const char *key)
{
    s3_upload *u = &sp->upload;
    if (u->key && strcmp(u->key, key) == 0) {
        sp->streaming = true;
        return ETL_OK;
    }
    if (u->upload_id || u->parts_done) {
        s3_host->set_error(sp->client->ctx, ETL_ERR_PERMANENT, 0,
                           "S3 sink: the commit names the object s3://%s/%s, but its parts went "
                           "up as s3://%s/%s (the commit the host announced while writing): "
                           "parts cannot be renamed, so the upload is aborted and the run "
                           "stops; a resumed run writes it again",
                           sp->client->bucket, key, sp->client->bucket, u->key);
        s3_upload_abort(sp->client, u);
        return ETL_ERR_PERMANENT;
    }
    char *copy = s3_strdup(key);
    if (copy == NULL)
        return nomem(sp);
    s3_spool_name(sp, copy);
    return ETL_OK;
}

static const uint32_t *pending_crc(s3_spool *sp)
{
    if (!sp->opts->crc32c)
        return NULL;
    if (!sp->crc_valid) {
        sp->crc = s3_crc32c(0, sp->data + sp->start, pending(sp));
        sp->crc_valid = true;
    }
    return &sp->crc;
}

etl_status s3_spool_publish(s3_spool *sp, const char *key)
{
    s3_upload *u = &sp->upload;
    if (u->done)
        return ETL_OK;
    etl_status st = settle_key(sp, key);
    if (st == ETL_OK)
        st = s3_spool_flush(sp);
    if (st != ETL_OK)
        return st;
    const char *rest = sp->data ? sp->data + sp->start : "";
    if (u->upload_id == NULL && u->parts_done == 0)
        return s3_upload_put(sp->client, u, sp->opts, rest, pending(sp), pending_crc(sp));
    if (pending(sp) > 0) {
        st = s3_upload_part(sp->client, u, sp->opts, rest, pending(sp), pending_crc(sp));
        if (st != ETL_OK)
            return st;
        sp->start = sp->len = 0;
        sp->crc = 0;
        sp->crc_valid = true;
    }
    return s3_upload_complete(sp->client, u, sp->opts);
}

void s3_spool_abort(s3_spool *sp)
{
    s3_upload_abort(sp->client, &sp->upload);
}

void s3_spool_free(s3_spool *sp)
{
    s3_host->free(sp->data);
    s3_upload_free(&sp->upload);
    memset(sp, 0, sizeof *sp);
}
