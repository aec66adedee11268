/* The S3 calls of one object's upload (s3_upload.h). */
#include "s3_upload.h"

#include <stdio.h>
#include <stdlib.h>

#include "s3_xml.h"

static etl_status nomem(s3_client *c)
{
    return s3_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "S3 sink: out of memory");
}

bool s3_part_query(const char *upload_id, int part, etl_buf *out)
{
    out->len = 0;
    if (part > 0 && s3_host->buf_printf(out, "partNumber=%d&", part) != ETL_OK)
        return false;
    return s3_host->buf_printf(out, "uploadId=") == ETL_OK &&
           s3_uri_encode(out, upload_id, strlen(upload_id), false) &&
           s3_host->buf_append(out, "", 1) == ETL_OK && (out->len--, true);
}

/* Headers of a PUT of `body`: Content-Type and the CRC32C. */
typedef struct put_headers {
    const char *names[3];
    const char *values[3];
    size_t count;
    char crc[12];
} put_headers;

static void headers_for(put_headers *h, const s3_upload_options *o, const char *body, size_t len,
                        const uint32_t *crc, bool content_type)
{
    h->count = 0;
    if (content_type && o->content_type) {
        h->names[h->count] = "Content-Type";
        h->values[h->count++] = o->content_type;
    }
    if (o->crc32c) {
        s3_crc32c_header(crc ? *crc : s3_crc32c(0, body, len), h->crc);
        h->names[h->count] = "x-amz-checksum-crc32c";
        h->values[h->count++] = h->crc;
    }
}

etl_status s3_upload_put(s3_client *c, s3_upload *u, const s3_upload_options *o,
                         const char *body, size_t len, const uint32_t *crc)
{
    if (u->done)
        return ETL_OK;
    put_headers h;
    headers_for(&h, o, body ? body : "", len, crc, true);
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "PUT", .key = u->key, .header_names = h.names,
                    .header_values = h.values, .header_count = h.count,
                    .body = body ? body : "", .body_len = len, .retry = true};
    etl_status st = s3_request(c, &call, &resp, NULL);
    s3_host->http_response_free(&resp);
    if (st == ETL_OK) {
        s3_host->metric_add(c->ctx, "s3_bytes_uploaded", (int64_t)len);
        u->done = true;
    }
    return st;
}

/* ---- stale uploads ------------------------------------------------------ */

typedef struct stale_scan {
    s3_client *client;
    const char *key;
    int aborted;
} stale_scan;

static void abort_by_id(s3_client *c, const char *key, const char *upload_id)
{
    etl_buf query = {0};
    if (s3_part_query(upload_id, 0, &query)) {
        etl_http_response resp = {.struct_size = sizeof resp};
        s3_call call = {.method = "DELETE", .key = key, .query = query.data, .retry = true};
        etl_status st = s3_send(c, &call, &resp);
        if (st != ETL_OK || (resp.status != 204 && resp.status != 200 && resp.status != 404))
            s3_host->log(c->ctx, ETL_LOG_WARN,
                         "could not abort the multipart upload of s3://%s/%s (HTTP %d): its parts "
                         "stay billed until a lifecycle rule (AbortIncompleteMultipartUpload) "
                         "removes them", c->bucket, key, (int)resp.status);
        s3_host->http_response_free(&resp);
    }
    s3_host->buf_free(&query);
}

static etl_status abort_if_same_key(void *user, const char *key, const char *upload_id)
{
    stale_scan *scan = user;
    if (strcmp(key, scan->key) == 0) {
        abort_by_id(scan->client, key, upload_id);
        scan->aborted++;
    }
    return ETL_OK;
}

/* A run killed while streaming leaves its multipart upload open: invisible,
 * but its parts are billed. The resumed run writes the same key, so it
 * aborts what is open there first. Best effort: a store that cannot list
 * uploads (s3rver) or a policy that forbids it only leaves them to a
 * lifecycle rule, as before. */
static void abort_stale_uploads(s3_client *c, const char *key)
{
    etl_buf query = {0};
    s3_host->buf_printf(&query, "prefix=");
    s3_uri_encode(&query, key, strlen(key), false);
    s3_host->buf_printf(&query, "&uploads=");
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "GET", .query = query.data, .retry = true,
                    .max_response_bytes = 4 << 20};
    stale_scan scan = {.client = c, .key = key};
    if (query.data && s3_send(c, &call, &resp) == ETL_OK && resp.status == 200 &&
        resp.body.data)
        s3_uploads_parse(resp.body.data, resp.body.len, abort_if_same_key, &scan);
    else
        s3_host->log(c->ctx, ETL_LOG_DEBUG,
                     "listing the open multipart uploads of s3://%s/%s gave HTTP %d: stale "
                     "uploads of a crashed run, if any, stay open", c->bucket, key,
                     (int)resp.status);
    if (scan.aborted)
        s3_host->log(c->ctx, ETL_LOG_INFO,
                     "aborted %d multipart upload(s) of s3://%s/%s left open by an earlier run",
                     scan.aborted, c->bucket, key);
    s3_host->http_response_free(&resp);
    s3_host->buf_free(&query);
}

static etl_status create_upload(s3_client *c, s3_upload *u, const s3_upload_options *o)
{
    abort_stale_uploads(c, u->key);
    const char *names[2], *values[2];
    size_t n = 0;
    if (o->content_type) {
        names[n] = "Content-Type";
        values[n++] = o->content_type;
    }
    if (o->crc32c) {
        names[n] = "x-amz-checksum-algorithm";
        values[n++] = "CRC32C";
    }
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "POST", .key = u->key, .query = "uploads=", .header_names = names,
                    .header_values = values, .header_count = n, .retry = true};
    etl_status st = s3_request(c, &call, &resp, NULL);
    etl_buf id = {0};
    if (st == ETL_OK && (!s3_xml_field(resp.body.data ? resp.body.data : "", resp.body.len,
                                       "UploadId", &id) || id.len == 0))
        st = s3_host->set_error(c->ctx, ETL_ERR_RETRY, resp.status,
                                "S3 POST s3://%s/%s?uploads: the answer has no UploadId",
                                c->bucket, u->key);
    if (st == ETL_OK) {
        u->upload_id = id.data;
        u->parts_done = 0;
        u->complete_sent = false;
        s3_host->log(c->ctx, ETL_LOG_DEBUG, "multipart upload of s3://%s/%s started", c->bucket,
                     u->key);
    } else {
        s3_host->buf_free(&id);
    }
    s3_host->http_response_free(&resp);
    return st;
}

/* Room for part parts_done + 1. */
static bool grow_parts(s3_upload *u)
{
    if (u->parts_done < u->parts_cap)
        return true;
    int cap = u->parts_cap ? u->parts_cap * 2 : 16;
    char **etags = s3_host->realloc(u->etags, (size_t)cap * sizeof *etags);
    if (etags == NULL)
        return false;
    u->etags = etags;
    char(*crcs)[12] = s3_host->realloc(u->crcs, (size_t)cap * sizeof *crcs);
    if (crcs == NULL)
        return false;
    u->crcs = crcs;
    for (int k = u->parts_cap; k < cap; k++)
        u->etags[k] = NULL;
    u->parts_cap = cap;
    return true;
}

etl_status s3_upload_part(s3_client *c, s3_upload *u, const s3_upload_options *o,
                          const char *body, size_t len, const uint32_t *crc)
{
    if (!grow_parts(u))
        return nomem(c);
    etl_status st = u->upload_id ? ETL_OK : create_upload(c, u, o);
    if (st != ETL_OK)
        return st;
    int k = u->parts_done;
    put_headers h;
    headers_for(&h, o, body, len, crc, false);
    etl_buf query = {0};
    if (!s3_part_query(u->upload_id, k + 1, &query)) {
        s3_host->buf_free(&query);
        return nomem(c);
    }
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "PUT", .key = u->key, .query = query.data, .header_names = h.names,
                    .header_values = h.values, .header_count = h.count, .body = body,
                    .body_len = len, .retry = true};
    st = s3_request(c, &call, &resp, NULL);
    const char *etag = st == ETL_OK ? s3_etag(&resp) : NULL;
    if (st == ETL_OK && etag == NULL)
        st = s3_host->set_error(c->ctx, ETL_ERR_RETRY, resp.status,
                                "S3 UploadPart %d of s3://%s/%s: the answer has no ETag", k + 1,
                                c->bucket, u->key);
    if (st == ETL_OK && (u->etags[k] = s3_strdup(etag)) == NULL)
        st = nomem(c);
    if (st == ETL_OK) {
        memcpy(u->crcs[k], h.crc, sizeof h.crc);
        u->parts_done = k + 1;
        s3_host->metric_add(c->ctx, "s3_bytes_uploaded", (int64_t)len);
    } else if (st == ETL_ERR_PERMANENT || st == ETL_ERR_CONFIG) {
        s3_upload_abort(c, u);
    }
    s3_host->http_response_free(&resp);
    s3_host->buf_free(&query);
    return st;
}

static bool complete_body(const s3_upload *u, bool crc32c, etl_buf *out)
{
    etl_status st = s3_host->buf_printf(
        out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int k = 0; k < u->parts_done && st == ETL_OK; k++) {
        st = s3_host->buf_printf(out, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>", k + 1,
                                 u->etags[k]);
        if (st == ETL_OK && crc32c)
            st = s3_host->buf_printf(out, "<ChecksumCRC32C>%s</ChecksumCRC32C>", u->crcs[k]);
        if (st == ETL_OK)
            st = s3_host->buf_printf(out, "</Part>");
    }
    return st == ETL_OK && s3_host->buf_printf(out, "</CompleteMultipartUpload>") == ETL_OK;
}

/* After a Complete whose answer was lost, the retry meets NoSuchUpload:
 * the object is there if a HEAD shows a multipart ETag of our part count. */
static bool completed_already(s3_client *c, s3_upload *u)
{
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "HEAD", .key = u->key, .retry = true};
    bool done = false;
    if (s3_send(c, &call, &resp) == ETL_OK && resp.status == 200) {
        const char *etag = s3_etag(&resp);
        char suffix[16];
        snprintf(suffix, sizeof suffix, "-%d\"", u->parts_done);
        done = etag && strlen(etag) > strlen(suffix) &&
               strcmp(etag + strlen(etag) - strlen(suffix), suffix) == 0;
    }
    s3_host->http_response_free(&resp);
    return done;
}

etl_status s3_upload_complete(s3_client *c, s3_upload *u, const s3_upload_options *o)
{
    if (u->done)
        return ETL_OK;
    if (u->upload_id == NULL)
        return s3_host->set_error(c->ctx, ETL_ERR_PERMANENT, 0,
                                  "S3 sink: no multipart upload of s3://%s/%s to complete",
                                  c->bucket, u->key);
    etl_buf body = {0}, query = {0}, code = {0}, message = {0};
    if (!complete_body(u, o->crc32c, &body) || !s3_part_query(u->upload_id, 0, &query)) {
        s3_host->buf_free(&body);
        s3_host->buf_free(&query);
        return nomem(c);
    }
    const char *names[] = {"Content-Type"}, *values[] = {"application/xml"};
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "POST", .key = u->key, .query = query.data, .header_names = names,
                    .header_values = values, .header_count = 1, .body = body.data,
                    .body_len = body.len, .retry = true, .sign_payload = true};
    u->complete_sent = true;
    etl_status st = s3_send(c, &call, &resp);
    const char *text = resp.body.data ? resp.body.data : "";
    const char *result_end = NULL;
    if (st != ETL_OK) {
        /* transport failure: the error is set; a later attempt finds out */
    } else if (resp.status == 404 && completed_already(c, u)) {
        /* NoSuchUpload: an earlier attempt (ours, or libcurl's silent resend
         * on a dead keep-alive connection) completed it. */
        st = ETL_OK;
    } else if (resp.status < 200 || resp.status >= 300) {
        st = s3_fail(c, &call, &resp);
    } else if (s3_xml_error(text, resp.body.len, &code, &message)) {
        /* S3 can answer 200 and then report the failure in the body. */
        etl_status cls = s3_status_for(500, code.data ? code.data : "");
        st = s3_host->set_error(c->ctx, cls == ETL_ERR_AUTH ? cls : ETL_ERR_RETRY, 200,
                                "S3 CompleteMultipartUpload s3://%s/%s: HTTP 200 with an error "
                                "in the body: %s: %s", c->bucket, u->key,
                                code.len ? code.data : "?", message.len ? message.data : "");
    } else if (s3_xml_find(text, text + resp.body.len, "CompleteMultipartUploadResult",
                           &result_end) == NULL &&
               /* moto names the root ...Response; both carry the new ETag */
               s3_xml_find(text, text + resp.body.len, "ETag", &result_end) == NULL) {
        st = s3_host->set_error(c->ctx, ETL_ERR_RETRY, 200,
                                "S3 CompleteMultipartUpload s3://%s/%s: HTTP 200 without a "
                                "CompleteMultipartUploadResult: '%.200s'", c->bucket, u->key,
                                text);
    }
    s3_host->http_response_free(&resp);
    s3_host->buf_free(&body);
    s3_host->buf_free(&query);
    s3_host->buf_free(&code);
    s3_host->buf_free(&message);
    if (st == ETL_OK) {
        u->done = true;   /* nothing is left to abort */
        s3_host->free(u->upload_id);
        u->upload_id = NULL;
    } else if (st == ETL_ERR_PERMANENT || st == ETL_ERR_CONFIG) {
        /* A part S3 refuses (InvalidPart, EntityTooSmall...) poisons the
         * whole upload: do not leave its parts behind. */
        s3_upload_abort(c, u);
    }
    return st;
}

void s3_upload_abort(s3_client *c, s3_upload *u)
{
    if (u->upload_id != NULL)
        abort_by_id(c, u->key, u->upload_id);
    s3_host->free(u->upload_id);
    u->upload_id = NULL;
    for (int k = 0; u->etags && k < u->parts_cap; k++) {
        s3_host->free(u->etags[k]);
        u->etags[k] = NULL;
    }
    u->parts_done = 0;
    u->complete_sent = false;
}

void s3_upload_free(s3_upload *u)
{
    for (int k = 0; u->etags && k < u->parts_cap; k++)
        s3_host->free(u->etags[k]);
    s3_host->free(u->etags);
    s3_host->free(u->crcs);
    s3_host->free(u->upload_id);
    s3_host->free(u->key);
    memset(u, 0, sizeof *u);
}
