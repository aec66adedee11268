/* The S3 client shared by the source, the sink and the state store: where
 * (s3:// URL, endpoint, region, addressing style), who (credentials from
 * the pipeline, the AWS environment variables or a shared-credentials
 * profile), and requests through the host's http_send (throttled, SigV4-
 * signed, retried with backoff), with S3's XML errors turned into clear
 * messages and statuses. Secrets never appear in a message. */
#ifndef ETL_S3_CLIENT_H
#define ETL_S3_CLIENT_H

#include "s3_internal.h"

/* Option specs every S3 connector takes, after its own `url`. */
#define S3_CLIENT_OPTION_SPECS                                                                    \
    {.key = "endpoint", .type = ETL_OPT_STRING,                                                  \
     .doc = "S3-compatible endpoint (http://127.0.0.1:9000, https://minio.example:9000); "       \
            "default: AWS (https://s3.<region>.amazonaws.com)"},                                 \
    {.key = "region", .type = ETL_OPT_STRING,                                                    \
     .doc = "signing region; default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1"},          \
    {.key = "path_style", .type = ETL_OPT_BOOL,                                                  \
     .doc = "path-style URLs (endpoint/bucket/key); default: true with an endpoint or a bucket " \
            "name with dots, else virtual-hosted (bucket.endpoint/key)"},                        \
    {.key = "access_key_id", .type = ETL_OPT_STRING, .flags = ETL_OPT_SECRET,                    \
     .doc = "static credentials (use ${VAR}); default: AWS_ACCESS_KEY_ID, then the profile"},    \
    {.key = "secret_access_key", .type = ETL_OPT_STRING, .flags = ETL_OPT_SECRET,                \
     .doc = "static credentials (use ${VAR}); never printed"},                                    \
    {.key = "secret_access_key_file", .type = ETL_OPT_STRING,                                    \
     .doc = "a file holding the secret access key (trailing newline ignored)"},                  \
    {.key = "session_token", .type = ETL_OPT_STRING, .flags = ETL_OPT_SECRET,                    \
     .doc = "session token of temporary credentials; default: AWS_SESSION_TOKEN"},               \
    {.key = "profile", .type = ETL_OPT_STRING,                                                   \
     .doc = "profile of the shared credentials file; default: AWS_PROFILE, else default"},       \
    {.key = "credentials_file", .type = ETL_OPT_STRING,                                          \
     .doc = "shared credentials file; default: AWS_SHARED_CREDENTIALS_FILE, else "               \
            "~/.aws/credentials"},                                                              \
    {.key = "anonymous", .type = ETL_OPT_BOOL, .default_value = "false",                         \
     .doc = "send unsigned requests (public buckets); no credentials are looked up"},            \
    {.key = "ca_file", .type = ETL_OPT_STRING,                                                   \
     .doc = "CA bundle for TLS (verification is always on); default: the system's"}

typedef struct s3_credentials {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char source[300];           /* where they came from, for messages */
} s3_credentials;

typedef struct s3_client {
    etl_ctx *ctx;
    char *bucket;
    char *prefix;               /* "" or ends with '/' */
    char *endpoint;             /* scheme://host[:port], no trailing slash */
    bool path_style;
    char *region;
    bool anonymous;
    s3_credentials cred;
    char *ca_file;
    /* NULL: the host hashes each body into the signature (S3 verifies it);
     * "UNSIGNED-PAYLOAD": integrity comes from a CRC32C header instead. */
    const char *payload_hash;
    /* Source requests go through the pipeline's throttle; a sink's and a
     * state store's do not (ETL_HTTP_NO_THROTTLE). */
    bool throttled;
} s3_client;

/* ---- pure parsing (unit-tested) --------------------------------------- */

/* "s3://bucket/some/prefix" -> bucket and prefix ("" or ending in '/').
 * False with a reason in `why` (static text) when it is not such a URL. */
bool s3_parse_url(const char *url, char **bucket, char **prefix, const char **why);

/* "http://h:9000/" or "h:9000" (https assumed) -> "scheme://h:9000"; NULL
 * with `why` when it has a path, a query or user info. */
char *s3_normalize_endpoint(const char *text, const char **why);

/* Appends s[0..n) percent-encoded as SigV4 wants for S3: everything but
 * A-Za-z0-9-._~ (and '/' when keep_slash) as %XX in uppercase. */
bool s3_uri_encode(etl_buf *out, const char *s, size_t n, bool keep_slash);

/* The URL of `key` in the client's bucket (key NULL: the bucket itself),
 * with `query` (already encoded and sorted) appended after '?'. */
bool s3_object_url(const s3_client *c, const char *key, const char *query, etl_buf *out);

/* Reads `profile` ([name] or [profile name]) of an INI credentials text
 * into cred; false when the profile or its two keys are missing. */
bool s3_profile_parse(const char *text, size_t len, const char *profile, s3_credentials *cred);

/* The status a failed S3 response maps to: auth codes -> ETL_ERR_AUTH,
 * NoSuchBucket -> ETL_ERR_CONFIG, 412 -> ETL_ERR_CONFLICT, throttling and
 * 5xx -> ETL_ERR_RETRY, else ETL_ERR_PERMANENT. */
etl_status s3_status_for(int http_status, const char *code);

/* ---- the client ---------------------------------------------------------- */

/* Reads `url` and the S3_CLIENT_OPTION_SPECS options, resolves the
 * credentials. Errors are ETL_ERR_CONFIG naming the option. */
etl_status s3_client_open(etl_ctx *ctx, const etl_options *opts, s3_client **out);
void s3_client_free(s3_client *c);

typedef struct s3_call {
    const char *method;         /* NULL: GET */
    const char *key;            /* the full object key; NULL: the bucket */
    const char *query;          /* encoded, sorted; NULL: none */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    const void *body;
    size_t body_len;
    bool retry;                 /* let the host retry transport errors and 5xx */
    bool sign_payload;          /* hash the body into the signature even with UNSIGNED-PAYLOAD */
    size_t max_response_bytes;
} s3_call;

/* Sends the call. ETL_OK when a response arrived, whatever its status;
 * transport failures (after the host's retries) are ETL_ERR_RETRY with the
 * error set. Free resp with s3_host->http_response_free. */
etl_status s3_send(s3_client *c, const s3_call *call, etl_http_response *resp);

/* s3_send, then a non-2xx status becomes its etl_status with an error that
 * says what failed where ("S3 PUT s3://b/k: HTTP 403 SignatureDoesNotMatch:
 * ...") and what to do. `ok_statuses` lists extra statuses that count as
 * success (0-terminated; NULL for none). */
etl_status s3_request(s3_client *c, const s3_call *call, etl_http_response *resp,
                      const int *ok_statuses);

/* Turns the response of a failed call into the error (used by s3_request,
 * and for 200 responses that carry an <Error>). */
etl_status s3_fail(s3_client *c, const s3_call *call, const etl_http_response *resp);

/* "s3://bucket/key" into out, for messages. */
void s3_describe(const s3_client *c, const char *key, etl_buf *out);

/* An ETag as a version token: the header value with its quotes. */
const char *s3_etag(const etl_http_response *resp);

#endif
