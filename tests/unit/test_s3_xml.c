/* Unit tests of the S3 plugin's pure code: XML field extraction, ListObjectsV2
 * pages, <Error> bodies (including a 200 with an error), URLs in both
 * addressing styles, URI encoding, s3:// URLs, endpoints, credential
 * profiles, error classes, CRC32C (the SSE4.2 path against the tables and a
 * bitwise reference), ListMultipartUploads answers, Hive partition escaping. Links the
 * plugin's files directly, with the host's real function table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "host_api.h"
#include "s3_client.h"
#include "s3_partition.h"
#include "s3_xml.h"
#include "tap_runner.h"

static void setup(void) { s3_host = host_api(); }

static char *field(const char *xml, const char *tag)
{
    etl_buf out = {0};
    if (!s3_xml_field(xml, strlen(xml), tag, &out)) {
        s3_host->buf_free(&out);
        return NULL;
    }
    return out.data ? out.data : strdup("");
}

START_TEST(xml_fields_and_entities)
{
    const char *xml = "<?xml version=\"1.0\"?><R xmlns=\"x\"><UploadId>a&amp;b&lt;c&#47;&#x41;</UploadId>"
                      "<Empty/><Key>k</Key><KeyMarker>no</KeyMarker></R>";
    char *v = field(xml, "UploadId");
    ck_assert_str_eq(v, "a&b<c/A");
    free(v);
    v = field(xml, "Empty");
    ck_assert_str_eq(v, "");
    free(v);
    v = field(xml, "Key");   /* not confused with KeyMarker */
    ck_assert_str_eq(v, "k");
    free(v);
    ck_assert_ptr_null(field(xml, "Missing"));
    ck_assert_ptr_null(field("<A>unterminated", "A"));
    ck_assert_ptr_null(field("<A>bad &bogus; entity</A>", "A"));
    ck_assert_ptr_null(field("<A>&#0;</A>", "A"));
    v = field("<A>&#233;</A>", "A");
    ck_assert_str_eq(v, "\xc3\xa9");
    free(v);
}
END_TEST

static bool is_error(const char *xml, char **code, char **message)
{
    etl_buf c = {0}, m = {0};
    bool e = s3_xml_error(xml, strlen(xml), &c, &m);
    *code = c.data ? c.data : strdup("");
    *message = m.data ? m.data : strdup("");
    return e;
}

START_TEST(xml_errors)
{
    char *code, *message;
    ck_assert(is_error("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch"
                       "</Code><Message>The request signature we calculated does not match"
                       "</Message><RequestId>1</RequestId></Error>", &code, &message));
    ck_assert_str_eq(code, "SignatureDoesNotMatch");
    ck_assert_str_eq(message, "The request signature we calculated does not match");
    free(code);
    free(message);
    /* CompleteMultipartUpload: 200, whitespace keep-alives, then an error. */
    ck_assert(is_error("<?xml version=\"1.0\"?>\n   \n  <Error><Code>InternalError</Code>"
                       "<Message>We encountered an internal error.</Message></Error>", &code,
                       &message));
    ck_assert_str_eq(code, "InternalError");
    free(code);
    free(message);
    /* A result is not an error, even if it mentions one. */
    ck_assert(!is_error("<CompleteMultipartUploadResult><Key>Error</Key></CompleteMultipartUploadResult>",
                        &code, &message));
    free(code);
    free(message);
    ck_assert(!is_error("", &code, &message));
    free(code);
    free(message);
    /* Cut short: still an error. */
    ck_assert(is_error("<Error><Code>SlowDown</Code><Mess", &code, &message));
    ck_assert_str_eq(code, "SlowDown");
    free(code);
    free(message);
}
END_TEST

typedef struct listed {
    int count;
    char keys[4][64];
    int64_t sizes[4];
    int64_t modified[4];
} listed;

static etl_status collect(void *user, const s3_list_entry *e)
{
    listed *l = user;
    if (l->count < 4) {
        snprintf(l->keys[l->count], 64, "%s", e->key);
        l->sizes[l->count] = e->size;
        l->modified[l->count] = e->last_modified_ms;
    }
    l->count++;
    return ETL_OK;
}

START_TEST(list_pages)
{
    const char *page =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a&amp;b.ndjson</Key><LastModified>2024-12-15T10:20:30.123Z</LastModified>"
        "<ETag>&quot;abc&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>p/c.csv</Key><LastModified>1970-01-01T00:00:01Z</LastModified>"
        "<ETag>\"d-2\"</ETag><Size>0</Size></Contents>"
        "<NextContinuationToken>1/a+b=</NextContinuationToken></ListBucketResult>";
    listed l = {0};
    bool truncated = false;
    etl_buf token = {0};
    ck_assert_int_eq(s3_list_parse(page, strlen(page), collect, &l, &truncated, &token), ETL_OK);
    ck_assert_int_eq(l.count, 2);
    ck_assert_str_eq(l.keys[0], "p/a&b.ndjson");
    ck_assert_int_eq(l.sizes[0], 42);
    ck_assert_int_eq(l.modified[0], 1734258030123LL);
    ck_assert_int_eq(l.modified[1], 1000);
    ck_assert(truncated);
    ck_assert_str_eq(token.data, "1/a+b=");
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    l.count = 0;
    ck_assert_int_eq(s3_list_parse(last, strlen(last), collect, &l, &truncated, &token), ETL_OK);
    ck_assert(!truncated);
    ck_assert_int_eq(l.count, 0);
    /* Truncated without a token, or not a listing at all: refused. */
    const char *bad = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    ck_assert_int_ne(s3_list_parse(bad, strlen(bad), collect, &l, &truncated, &token), ETL_OK);
    ck_assert_int_ne(s3_list_parse("<Error/>", 8, collect, &l, &truncated, &token), ETL_OK);
    s3_host->buf_free(&token);
}
END_TEST

START_TEST(times)
{
    ck_assert_int_eq(s3_parse_time_ms("2024-12-15T00:00:00Z", 20), 1734220800000LL);
    ck_assert_int_eq(s3_parse_time_ms("2024-12-15T00:00:00.5Z", 22), 1734220800500LL);
    ck_assert_int_eq(s3_parse_time_ms("2024-12-15 00:00:00Z", 20), -1);
    ck_assert_int_eq(s3_parse_time_ms("2024-13-15T00:00:00Z", 20), -1);
    ck_assert_int_eq(s3_parse_time_ms("2024-12-15T00:00:00", 19), -1);
    char text[96];
    s3_format_time_ms(1734258030123LL, text);
    ck_assert_str_eq(text, "2024-12-15T10:20:30.123Z");
}
END_TEST

START_TEST(urls_and_encoding)
{
    char *bucket, *prefix;
    const char *why;
    ck_assert(s3_parse_url("s3://my-bucket/data/in", &bucket, &prefix, &why));
    ck_assert_str_eq(bucket, "my-bucket");
    ck_assert_str_eq(prefix, "data/in/");
    free(bucket);
    free(prefix);
    ck_assert(s3_parse_url("s3://bkt", &bucket, &prefix, &why));
    ck_assert_str_eq(prefix, "");
    free(bucket);
    free(prefix);
    ck_assert(!s3_parse_url("https://bkt/x", &bucket, &prefix, &why));
    ck_assert(!s3_parse_url("s3://ab/x", &bucket, &prefix, &why));
    ck_assert(!s3_parse_url("s3://Upper/x", &bucket, &prefix, &why));
    ck_assert(!s3_parse_url("s3://bkt/a//b", &bucket, &prefix, &why));

    char *e = s3_normalize_endpoint("127.0.0.1:9000/", &why);
    ck_assert_str_eq(e, "https://127.0.0.1:9000");
    free(e);
    e = s3_normalize_endpoint("http://localhost:4568", &why);
    ck_assert_str_eq(e, "http://localhost:4568");
    free(e);
    ck_assert_ptr_null(s3_normalize_endpoint("http://h/some/path", &why));
    ck_assert_ptr_null(s3_normalize_endpoint("http://user:pw@h", &why));
    ck_assert_ptr_null(s3_normalize_endpoint("ftp://h", &why));

    etl_buf out = {0};
    ck_assert(s3_uri_encode(&out, "a b/c+d~e=é", strlen("a b/c+d~e=é"), true));
    ck_assert_str_eq(s3_host->buf_printf(&out, "%s", "") == ETL_OK ? out.data : "", "a%20b/c%2Bd~e%3D%C3%A9");
    out.len = 0;
    s3_uri_encode(&out, "a/b", 3, false);
    s3_host->buf_printf(&out, "%s", "");
    ck_assert_str_eq(out.data, "a%2Fb");

    s3_client c = {.bucket = "bkt", .prefix = "", .endpoint = "http://127.0.0.1:9000",
                   .path_style = true};
    ck_assert(s3_object_url(&c, "dt=2024-12-15/x y.ndjson", "partNumber=1&uploadId=a%2Fb", &out));
    ck_assert_str_eq(out.data,
                     "http://127.0.0.1:9000/bkt/dt%3D2024-12-15/x%20y.ndjson?partNumber=1&uploadId=a%2Fb");
    c.path_style = false;
    c.endpoint = "https://s3.eu-west-1.amazonaws.com";
    ck_assert(s3_object_url(&c, NULL, "list-type=2", &out));
    ck_assert_str_eq(out.data, "https://bkt.s3.eu-west-1.amazonaws.com/?list-type=2");
    s3_host->buf_free(&out);
}
END_TEST

START_TEST(profiles)
{
    const char *ini = "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key=sdef\n"
                      "\n[profile work]\r\n aws_access_key_id = AKWORK \r\n"
                      "aws_secret_access_key = s/w+k=\r\naws_session_token = tok\r\n"
                      "[half]\naws_access_key_id = only\n";
    s3_credentials c = {0};
    ck_assert(s3_profile_parse(ini, strlen(ini), "work", &c));
    ck_assert_str_eq(c.access_key_id, "AKWORK");
    ck_assert_str_eq(c.secret_access_key, "s/w+k=");
    ck_assert_str_eq(c.session_token, "tok");
    free(c.access_key_id);
    free(c.secret_access_key);
    free(c.session_token);
    memset(&c, 0, sizeof c);
    ck_assert(s3_profile_parse(ini, strlen(ini), "default", &c));
    ck_assert_str_eq(c.access_key_id, "AKDEF");
    ck_assert_ptr_null(c.session_token);
    free(c.access_key_id);
    free(c.secret_access_key);
    memset(&c, 0, sizeof c);
    ck_assert(!s3_profile_parse(ini, strlen(ini), "half", &c));
    free(c.access_key_id);
    memset(&c, 0, sizeof c);
    ck_assert(!s3_profile_parse(ini, strlen(ini), "nope", &c));
    ck_assert(!s3_profile_parse("", 0, "default", &c));
}
END_TEST

START_TEST(error_classes)
{
    ck_assert_int_eq(s3_status_for(403, "SignatureDoesNotMatch"), ETL_ERR_AUTH);
    ck_assert_int_eq(s3_status_for(403, "InvalidAccessKeyId"), ETL_ERR_AUTH);
    ck_assert_int_eq(s3_status_for(403, ""), ETL_ERR_AUTH);
    ck_assert_int_eq(s3_status_for(404, "NoSuchBucket"), ETL_ERR_CONFIG);
    ck_assert_int_eq(s3_status_for(404, "NoSuchKey"), ETL_ERR_PERMANENT);
    ck_assert_int_eq(s3_status_for(503, "SlowDown"), ETL_ERR_RETRY);
    ck_assert_int_eq(s3_status_for(500, "InternalError"), ETL_ERR_RETRY);
    ck_assert_int_eq(s3_status_for(200, "InternalError"), ETL_ERR_RETRY);
    ck_assert_int_eq(s3_status_for(400, "RequestTimeout"), ETL_ERR_RETRY);
    ck_assert_int_eq(s3_status_for(412, "PreconditionFailed"), ETL_ERR_CONFLICT);
    ck_assert_int_eq(s3_status_for(400, "EntityTooSmall"), ETL_ERR_PERMANENT);
    ck_assert_int_eq(s3_status_for(301, "PermanentRedirect"), ETL_ERR_CONFIG);
}
END_TEST

START_TEST(crc32c)
{
    /* RFC 3720 test vectors. */
    unsigned char zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (unsigned char)i;
    ck_assert_uint_eq(s3_crc32c(0, zeros, 32), 0x8A9136AAu);
    ck_assert_uint_eq(s3_crc32c(0, ones, 32), 0x62A8AB43u);
    ck_assert_uint_eq(s3_crc32c(0, inc, 32), 0x46DD794Eu);
    ck_assert_uint_eq(s3_crc32c(0, "123456789", 9), 0xE3069283u);
    /* Incremental equals one pass, at odd splits. */
    uint32_t c = s3_crc32c(0, "1234", 4);
    ck_assert_uint_eq(s3_crc32c(c, "56789", 5), 0xE3069283u);
    char header[12];
    s3_crc32c_header(0xE3069283u, header);
    ck_assert_str_eq(header, "4waSgw==");
    char b64[16];
    s3_base64((const unsigned char *)"hello", 5, b64);
    ck_assert_str_eq(b64, "aGVsbG8=");
}
END_TEST

/* One bit at a time, straight from the definition. */
static uint32_t crc32c_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    uint32_t c = ~crc;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

START_TEST(crc32c_fast_path)
{
    /* Lengths around the 3 x 4096-byte interleaved blocks, at odd offsets. */
    size_t n = 64 * 1024 + 16;
    unsigned char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    const size_t lens[] = {0, 1, 7, 8, 9, 4095, 12287, 12288, 12289, 24576, 24583, 40000, 64 * 1024};
    int checked = 0;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t off = 0; off < 4; off++) {
            uint32_t want = crc32c_bitwise(0x5eed, data + off, lens[i]);
            ck_assert_uint_eq(s3_crc32c(0x5eed, data + off, lens[i]), want);
            ck_assert_uint_eq(s3_crc32c_portable(0x5eed, data + off, lens[i]), want);
            checked++;
        }
    }
    ck_assert_int_eq(checked, 52);
    /* Split anywhere, the running CRC is the same. */
    uint32_t whole = s3_crc32c(0, data, n);
    for (size_t cut = 1; cut < n; cut += 4099)
        ck_assert_uint_eq(s3_crc32c(s3_crc32c(0, data, cut), data + cut, n - cut), whole);
    free(data);
}
END_TEST

typedef struct uploads_seen {
    int n;
    char keys[4][64];
    char ids[4][64];
} uploads_seen;

static etl_status note_upload(void *user, const char *key, const char *id)
{
    uploads_seen *seen = user;
    ck_assert_int_lt(seen->n, 4);
    snprintf(seen->keys[seen->n], sizeof seen->keys[0], "%s", key);
    snprintf(seen->ids[seen->n], sizeof seen->ids[0], "%s", id);
    seen->n++;
    return ETL_OK;
}

START_TEST(multipart_upload_lists)
{
    const char *xml =
        "<?xml version=\"1.0\"?><ListMultipartUploadsResult xmlns=\"x\"><Bucket>b</Bucket>"
        "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>k</NextKeyMarker>"
        "<Prefix>out/a</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>"
        "<Upload><Key>out/a.ndjson</Key><UploadId>id&amp;1</UploadId><Initiator><ID>x</ID>"
        "</Initiator><Initiated>2024-12-15T10:20:30.000Z</Initiated></Upload>"
        "<Upload><Key>out/a.ndjson.old</Key><UploadId>id2</UploadId></Upload>"
        "</ListMultipartUploadsResult>";
    uploads_seen seen = {0};
    ck_assert_int_eq(s3_uploads_parse(xml, strlen(xml), note_upload, &seen), ETL_OK);
    ck_assert_int_eq(seen.n, 2);
    ck_assert_str_eq(seen.keys[0], "out/a.ndjson");
    ck_assert_str_eq(seen.ids[0], "id&1");
    ck_assert_str_eq(seen.keys[1], "out/a.ndjson.old");
    ck_assert_str_eq(seen.ids[1], "id2");
    /* None open; not such an answer; an upload without its id. */
    const char *none = "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
                       "</ListMultipartUploadsResult>";
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(s3_uploads_parse(none, strlen(none), note_upload, &seen), ETL_OK);
    ck_assert_int_eq(seen.n, 0);
    const char *error = "<Error><Code>NotImplemented</Code></Error>";
    ck_assert_int_eq(s3_uploads_parse(error, strlen(error), note_upload, &seen), ETL_ERR_PERMANENT);
    const char *broken = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                         "</ListMultipartUploadsResult>";
    ck_assert_int_eq(s3_uploads_parse(broken, strlen(broken), note_upload, &seen), ETL_ERR_PERMANENT);
    ck_assert_int_eq(s3_uploads_parse(broken, 20, note_upload, &seen), ETL_ERR_PERMANENT);
    ck_assert_int_eq(seen.n, 0);
}
END_TEST

START_TEST(hive_paths)
{
    etl_buf out = {0};
    const char *v = "a/b=c:d%e f\x01#";
    ck_assert(s3_hive_escape(&out, v, strlen(v)));
    s3_host->buf_printf(&out, "%s", "");
    ck_assert_str_eq(out.data, "a%2Fb%3Dc%3Ad%25e f%01%23");
    s3_host->buf_free(&out);
}
END_TEST

static Suite *s3_suite(void)
{
    Suite *s = suite_create("s3");
    TCase *tc = tcase_create("pure");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, xml_fields_and_entities);
    tcase_add_test(tc, xml_errors);
    tcase_add_test(tc, list_pages);
    tcase_add_test(tc, times);
    tcase_add_test(tc, urls_and_encoding);
    tcase_add_test(tc, profiles);
    tcase_add_test(tc, error_classes);
    tcase_add_test(tc, crc32c);
    tcase_add_test(tc, crc32c_fast_path);
    tcase_add_test(tc, multipart_upload_lists);
    tcase_add_test(tc, hive_paths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite_as_tap(s3_suite()); }
