/* One object's upload: single PUT or multipart (s3_upload.h). */
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
                        bool content_type)
{
    h->count = 0;
    if (content_type && o->content_type) {
        h->names[h->count] = "Content-Type";
        h->values[h->count++] = o->content_type;
    }
    if (o->crc32c) {
        s3_crc32c_header(s3_crc32c(0, body, len), h->crc);
        h->names[h->count] = "x-amz-checksum-crc32c";
        h->values[h->count++] = h->crc;
    }
}

static etl_status put_single(s3_client *c, s3_upload *u, s3_spool *sp, const s3_upload_options *o)
{
    size_t len = (size_t)s3_spool_size(sp);
    const char *body = len ? s3_spool_view(sp, c->ctx, 0, len) : "";
    if (body == NULL)
        return ETL_ERR_IO;
    put_headers h;
    headers_for(&h, o, body, len, true);
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "PUT", .key = u->key, .header_names = h.names,
                    .header_values = h.values, .header_count = h.count, .body = body,
                    .body_len = len, .retry = true};
    etl_status st = s3_request(c, &call, &resp, NULL);
    s3_host->http_response_free(&resp);
    if (st == ETL_OK)
        s3_host->metric_add(c->ctx, "s3_bytes_uploaded", (int64_t)len);
    return st;
}

static etl_status create_upload(s3_client *c, s3_upload *u, const s3_upload_options *o)
{
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
        s3_host->log(c->ctx, ETL_LOG_DEBUG, "multipart upload of s3://%s/%s started (%d parts)",
                     c->bucket, u->key, u->parts_total);
    } else {
        s3_host->buf_free(&id);
    }
    s3_host->http_response_free(&resp);
    return st;
}

static etl_status upload_part(s3_client *c, s3_upload *u, s3_spool *sp,
                              const s3_upload_options *o, int k)
{
    int64_t total = s3_spool_size(sp);
    int64_t off = (int64_t)k * o->part_size;
    size_t len = (size_t)(total - off < o->part_size ? total - off : o->part_size);
    const char *body = s3_spool_view(sp, c->ctx, off, len);
    if (body == NULL)
        return ETL_ERR_IO;
    put_headers h;
    headers_for(&h, o, body, len, false);
    etl_buf query = {0};
    if (!s3_part_query(u->upload_id, k + 1, &query)) {
        s3_host->buf_free(&query);
        return nomem(c);
    }
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "PUT", .key = u->key, .query = query.data, .header_names = h.names,
                    .header_values = h.values, .header_count = h.count, .body = body,
                    .body_len = len, .retry = true};
    etl_status st = s3_request(c, &call, &resp, NULL);
    const char *etag = st == ETL_OK ? s3_etag(&resp) : NULL;
    if (st == ETL_OK && etag == NULL)
        st = s3_host->set_error(c->ctx, ETL_ERR_RETRY, resp.status,
                                "S3 UploadPart %d of s3://%s/%s: the answer has no ETag", k + 1,
                                c->bucket, u->key);
    if (st == ETL_OK) {
        u->etags[k] = s3_strdup(etag);
        memcpy(u->crcs[k], h.crc, sizeof h.crc);
        u->parts_done = k + 1;
        s3_host->metric_add(c->ctx, "s3_bytes_uploaded", (int64_t)len);
    }
    s3_host->http_response_free(&resp);
    s3_host->buf_free(&query);
    return st;
}

static bool complete_body(const s3_upload *u, bool crc32c, etl_buf *out)
{
    etl_status st = s3_host->buf_printf(
        out, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int k = 0; k < u->parts_total && st == ETL_OK; k++) {
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
        snprintf(suffix, sizeof suffix, "-%d\"", u->parts_total);
        done = etag && strlen(etag) > strlen(suffix) &&
               strcmp(etag + strlen(etag) - strlen(suffix), suffix) == 0;
    }
    s3_host->http_response_free(&resp);
    return done;
}

static etl_status complete_upload(s3_client *c, s3_upload *u, const s3_upload_options *o)
{
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
    return st;
}

static etl_status run_multipart(s3_client *c, s3_upload *u, s3_spool *sp,
                                const s3_upload_options *o)
{
    int64_t total = s3_spool_size(sp);
    int parts = (int)((total + o->part_size - 1) / o->part_size);
    if (parts > S3_MAX_PARTS)
        return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                                  "S3 sink: s3://%s/%s would need %d parts of %lld bytes (S3 "
                                  "allows %d): raise part_size or checkpoint more often",
                                  c->bucket, u->key, parts, (long long)o->part_size, S3_MAX_PARTS);
    if (u->etags == NULL) {
        u->parts_total = parts;
        u->etags = s3_host->alloc((size_t)parts * sizeof *u->etags);
        u->crcs = s3_host->alloc((size_t)parts * sizeof *u->crcs);
        if (u->etags == NULL || u->crcs == NULL)
            return nomem(c);
        memset(u->etags, 0, (size_t)parts * sizeof *u->etags);
        memset(u->crcs, 0, (size_t)parts * sizeof *u->crcs);
    }
    etl_status st = u->upload_id ? ETL_OK : create_upload(c, u, o);
    for (int k = u->parts_done; k < parts && st == ETL_OK; k++)
        st = upload_part(c, u, sp, o, k);
    if (st == ETL_OK)
        st = complete_upload(c, u, o);
    if (st == ETL_ERR_PERMANENT || st == ETL_ERR_CONFIG) {
        /* A part S3 refuses (InvalidPart, EntityTooSmall...) poisons the
         * whole upload: do not leave its parts behind. */
        s3_upload_abort(c, u);
    }
    return st;
}

etl_status s3_upload_run(s3_client *c, s3_upload *u, s3_spool *sp, const s3_upload_options *o)
{
    if (u->done)
        return ETL_OK;
    etl_status st = s3_spool_size(sp) <= o->part_size ? put_single(c, u, sp, o)
                                                      : run_multipart(c, u, sp, o);
    u->done = st == ETL_OK;
    if (u->done) {
        /* Completed: nothing is left to abort. */
        s3_host->free(u->upload_id);
        u->upload_id = NULL;
    }
    return st;
}

void s3_upload_abort(s3_client *c, s3_upload *u)
{
    if (u->upload_id == NULL)
        return;
    etl_buf query = {0};
    if (s3_part_query(u->upload_id, 0, &query)) {
        etl_http_response resp = {.struct_size = sizeof resp};
        s3_call call = {.method = "DELETE", .key = u->key, .query = query.data, .retry = true};
        etl_status st = s3_send(c, &call, &resp);
        if (st != ETL_OK || (resp.status != 204 && resp.status != 200 && resp.status != 404))
            s3_host->log(c->ctx, ETL_LOG_WARN,
                         "could not abort the multipart upload of s3://%s/%s (HTTP %d): its parts "
                         "stay billed until a lifecycle rule (AbortIncompleteMultipartUpload) "
                         "removes them", c->bucket, u->key, (int)resp.status);
        s3_host->http_response_free(&resp);
    }
    s3_host->buf_free(&query);
    s3_host->free(u->upload_id);
    u->upload_id = NULL;
    for (int k = 0; u->etags && k < u->parts_total; k++) {
        s3_host->free(u->etags[k]);
        u->etags[k] = NULL;
    }
    u->parts_done = 0;
    u->complete_sent = false;
}

void s3_upload_free(s3_upload *u)
{
    for (int k = 0; u->etags && k < u->parts_total; k++)
        s3_host->free(u->etags[k]);
    s3_host->free(u->etags);
    s3_host->free(u->crcs);
    s3_host->free(u->upload_id);
    s3_host->free(u->key);
    memset(u, 0, sizeof *u);
}
