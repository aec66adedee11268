/* AWS Signature Version 4 (AWS4-HMAC-SHA256): canonical request, string to
 * sign, signature and the headers (or presigned query) that carry it.
 * Pure computation: no network, no clock (the caller passes the time).
 * See docs/sigv4.md. */
#ifndef ETL_CORE_SIGV4_H
#define ETL_CORE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <etl/plugin.h>

/* Remove "." and ".." segments and collapse "//" in the path before
 * signing. Every service but S3. */
#define SIGV4_NORMALIZE_PATH 0x01u
/* Percent-encode the (wire) path once more, '%' included: the "double
 * encoding" every service but S3 expects. Without it the path is signed in
 * its canonical single encoding (S3): each byte, literal or %XX, comes out
 * as %XX unless it is unreserved, and literal '/' stays '/'. */
#define SIGV4_DOUBLE_ENCODE_PATH 0x02u
/* Sign and send x-amz-content-sha256 (S3 requires it on every request).
 * Header signing only. */
#define SIGV4_ADD_CONTENT_SHA256 0x04u
/* Send the session token but leave it out of the signature (a few
 * services, e.g. IoT, want that). */
#define SIGV4_OMIT_SESSION_TOKEN 0x08u

#define SIGV4_FLAGS_DEFAULT (SIGV4_NORMALIZE_PATH | SIGV4_DOUBLE_ENCODE_PATH)
#define SIGV4_FLAGS_S3 (SIGV4_ADD_CONTENT_SHA256)

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_MAX_ADDED_HEADERS 4

typedef struct sigv4_credentials {
    const char *access_key;
    const char *secret_key;
    const char *session_token;       /* NULL or "" without one */
} sigv4_credentials;

typedef struct sigv4_request {
    const char *method;              /* "GET", "PUT", ... */
    const char *path;                /* as on the request line; "" means "/" */
    const char *query;               /* raw query string without '?'; NULL or "" for none */
    /* Every header given is signed (names case-insensitive; repeated names
     * are joined with ',' in the order given). Include Host. Authorization,
     * and the X-Amz-* headers the signer adds itself, are ignored. */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    const void *body;
    size_t body_len;
    /* Hex SHA-256 of the body, or SIGV4_UNSIGNED_PAYLOAD; NULL hashes body. */
    const char *payload_hash;
} sigv4_request;

typedef struct sigv4_result {
    etl_buf canonical_request;
    etl_buf string_to_sign;
    etl_buf signature;               /* 64 hex digits */
    etl_buf amz_date;                /* 20150830T123600Z */
    etl_buf payload_hash;            /* the hash that was signed */
    etl_buf signed_headers;          /* host;x-amz-date */
    etl_buf authorization;           /* header signing: the Authorization value */
    etl_buf query;                   /* presigning: the query to send, signature included */
    /* Header signing: lines to add to the request as they are, curl-style
     * "Name: value" (X-Amz-Date, X-Amz-Security-Token, x-amz-content-sha256,
     * Authorization last). */
    etl_buf added_headers[SIGV4_MAX_ADDED_HEADERS];
    size_t added_count;
    char error[256];                 /* why signing failed */
} sigv4_result;

/* Header signing. `when` is the signing time (UTC seconds). On failure
 * returns ETL_ERR_CONFIG (bad input, reason in out->error) or
 * ETL_ERR_NOMEM. Always call sigv4_result_free() afterwards. */
etl_status sigv4_sign(const sigv4_request *req, const sigv4_credentials *creds,
                      const char *region, const char *service, time_t when,
                      unsigned flags, sigv4_result *out);

/* Query signing (a presigned URL valid for `expires_s` seconds): out->query
 * holds the request's own parameters plus the X-Amz-* ones and
 * X-Amz-Signature. SIGV4_ADD_CONTENT_SHA256 is ignored. */
etl_status sigv4_presign(const sigv4_request *req, const sigv4_credentials *creds,
                         const char *region, const char *service, time_t when,
                         long expires_s, unsigned flags, sigv4_result *out);

void sigv4_result_free(sigv4_result *out);

/* RFC 3986 percent-encoding with uppercase hex: A-Za-z0-9-._~ stay, and
 * '/' too when keep_slash (use it to build S3 object paths). */
etl_status sigv4_uri_encode(etl_buf *out, const char *s, size_t len, bool keep_slash);
/* Lowercase hex SHA-256 of data into hex[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
