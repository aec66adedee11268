/* Tiny XML field extraction for S3 responses (see s3_xml.h). */
#include "s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static bool name_ends(char c) { return c == '>' || c == ' ' || c == '/' || c == '\t' || c == '\n' || c == '\r'; }

/* The next start tag <tag ...> from p; *tag_end is past its '>'. */
static const char *find_start_tag(const char *p, const char *end, const char *tag, size_t tlen,
                                  const char **tag_end, bool *empty)
{
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL || (size_t)(end - lt) < tlen + 2)
            return NULL;
        if (memcmp(lt + 1, tag, tlen) == 0 && name_ends(lt[1 + tlen])) {
            const char *gt = memchr(lt + 1 + tlen, '>', (size_t)(end - lt - 1 - tlen));
            if (gt == NULL)
                return NULL;
            *empty = gt[-1] == '/';
            *tag_end = gt + 1;
            return lt;
        }
        p = lt + 1;
    }
    return NULL;
}

const char *s3_xml_find(const char *p, const char *end, const char *tag, const char **content_end)
{
    size_t tlen = strlen(tag);
    const char *start;
    bool empty = false;
    if (p == NULL || find_start_tag(p, end, tag, tlen, &start, &empty) == NULL)
        return NULL;
    if (empty) {
        *content_end = start;
        return start;
    }
    /* The matching close tag: S3 never nests an element in one of the same name. */
    for (const char *q = start; q < end;) {
        const char *lt = memchr(q, '<', (size_t)(end - q));
        if (lt == NULL || (size_t)(end - lt) < tlen + 3)
            return NULL;
        if (lt[1] == '/' && memcmp(lt + 2, tag, tlen) == 0 && lt[2 + tlen] == '>') {
            *content_end = lt;
            return start;
        }
        q = lt + 1;
    }
    return NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool append_utf8(etl_buf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return s3_host->buf_append(out, b, n) == ETL_OK;
}

/* One entity after '&' at p; *next is past its ';'. */
static bool decode_entity(const char *p, const char *end, etl_buf *out, const char **next)
{
    const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
    if (semi == NULL)
        return false;
    size_t n = (size_t)(semi - p);
    static const struct {
        const char *name;
        char ch;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    *next = semi + 1;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && memcmp(p, named[i].name, n) == 0)
            return s3_host->buf_append(out, &named[i].ch, 1) == ETL_OK;
    if (n < 2 || p[0] != '#')
        return false;
    bool hex = p[1] == 'x' || p[1] == 'X';
    unsigned long cp = 0;
    const char *d = p + (hex ? 2 : 1);
    if (d == semi)
        return false;
    for (; d < semi; d++) {
        int v = hex ? hex_digit(*d) : (*d >= '0' && *d <= '9' ? *d - '0' : -1);
        if (v < 0 || cp > 0x10FFFF)
            return false;
        cp = cp * (hex ? 16 : 10) + (unsigned long)v;
    }
    return append_utf8(out, cp);
}

bool s3_xml_text(const char *p, const char *end, etl_buf *out)
{
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p && s3_host->buf_append(out, p, (size_t)(stop - p)) != ETL_OK)
            return false;
        if (amp == NULL)
            break;
        if (!decode_entity(amp + 1, end, out, &p))
            return false;
    }
    /* NUL-terminate without counting it. */
    if (s3_host->buf_append(out, "", 1) != ETL_OK)
        return false;
    out->len--;
    return true;
}

bool s3_xml_field(const char *xml, size_t len, const char *tag, etl_buf *out)
{
    const char *cend;
    const char *c = s3_xml_find(xml, xml + len, tag, &cend);
    out->len = 0;
    return c != NULL && s3_xml_text(c, cend, out);
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* The first element of the document, past the prolog and whitespace. */
static const char *root_element(const char *xml, const char *end)
{
    const char *root = skip_space(xml, end);
    if (end - root > 5 && memcmp(root, "<?xml", 5) == 0) {
        const char *q = memchr(root, '>', (size_t)(end - root));
        root = skip_space(q ? q + 1 : end, end);
    }
    return root;
}

bool s3_xml_error(const char *xml, size_t len, etl_buf *code, etl_buf *message)
{
    const char *end = xml + len, *eend;
    const char *root = root_element(xml, end);
    if (end - root < 8 || memcmp(root, "<Error", 6) != 0 || !name_ends(root[6]))
        return false;
    const char *e = s3_xml_find(root, end, "Error", &eend);
    if (e == NULL)
        eend = end;   /* cut short: still an error; read what is there */
    else
        root = e;
    if (!s3_xml_field(root, (size_t)(eend - root), "Code", code))
        code->len = 0;
    if (!s3_xml_field(root, (size_t)(eend - root), "Message", message))
        message->len = 0;
    return true;
}

static int64_t field_int(const char *p, const char *end, const char *tag)
{
    const char *cend;
    const char *c = s3_xml_find(p, end, tag, &cend);
    if (c == NULL)
        return -1;
    int64_t v = 0;
    for (; c < cend && *c >= '0' && *c <= '9' && v < INT64_MAX / 10 - 9; c++)
        v = v * 10 + (*c - '0');
    return c == cend ? v : -1;
}

etl_status s3_list_parse(const char *xml, size_t len, s3_list_entry_fn fn, void *user,
                         bool *truncated, etl_buf *next_token)
{
    const char *end = xml + len, *rend;
    const char *root = s3_xml_find(xml, end, "ListBucketResult", &rend);
    next_token->len = 0;
    *truncated = false;
    if (root == NULL)
        return ETL_ERR_PERMANENT;
    etl_buf key = {0}, etag = {0}, scratch = {0};
    etl_status st = ETL_OK;
    const char *p = root, *cend;
    const char *c;
    while (st == ETL_OK && (c = s3_xml_find(p, rend, "Contents", &cend)) != NULL) {
        const char *kend, *tend, *mend;
        const char *k = s3_xml_find(c, cend, "Key", &kend);
        const char *t = s3_xml_find(c, cend, "ETag", &tend);
        const char *m = s3_xml_find(c, cend, "LastModified", &mend);
        key.len = etag.len = 0;
        if (k == NULL || !s3_xml_text(k, kend, &key) || (t && !s3_xml_text(t, tend, &etag))) {
            st = ETL_ERR_PERMANENT;
            break;
        }
        if (t == NULL && !s3_xml_text("", "", &etag)) {
            st = ETL_ERR_NOMEM;
            break;
        }
        s3_list_entry e = {.key = key.data,
                           .size = field_int(c, cend, "Size"),
                           .last_modified_ms = m ? s3_parse_time_ms(m, (size_t)(mend - m)) : -1,
                           .etag = etag.data};
        st = fn(user, &e);
        p = cend;
    }
    if (st == ETL_OK && s3_xml_field(root, (size_t)(rend - root), "IsTruncated", &scratch))
        *truncated = strcmp(scratch.data, "true") == 0;
    if (st == ETL_OK && *truncated &&
        !s3_xml_field(root, (size_t)(rend - root), "NextContinuationToken", next_token))
        st = ETL_ERR_PERMANENT;   /* truncated without a token: cannot go on */
    s3_host->buf_free(&key);
    s3_host->buf_free(&etag);
    s3_host->buf_free(&scratch);
    return st;
}

etl_status s3_uploads_parse(const char *xml, size_t len, s3_upload_entry_fn fn, void *user)
{
    const char *end = xml + len, *rend;
    const char *root = s3_xml_find(xml, end, "ListMultipartUploadsResult", &rend);
    if (root == NULL)
        return ETL_ERR_PERMANENT;
    etl_buf key = {0}, id = {0};
    etl_status st = ETL_OK;
    const char *p = root, *uend, *u;
    while (st == ETL_OK && (u = s3_xml_find(p, rend, "Upload", &uend)) != NULL) {
        const char *kend, *iend;
        const char *k = s3_xml_find(u, uend, "Key", &kend);
        const char *i = s3_xml_find(u, uend, "UploadId", &iend);
        key.len = id.len = 0;
        if (k == NULL || i == NULL || !s3_xml_text(k, kend, &key) || !s3_xml_text(i, iend, &id))
            st = ETL_ERR_PERMANENT;
        else
            st = fn(user, key.data, id.data);
        p = uend;
    }
    s3_host->buf_free(&key);
    s3_host->buf_free(&id);
    return st;
}

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t s3_parse_time_ms(const char *t, size_t len)
{
    int y, mo, d, h, mi, s;
    if (len < 20 || !digits(t, 4, &y) || t[4] != '-' || !digits(t + 5, 2, &mo) || t[7] != '-' ||
        !digits(t + 8, 2, &d) || t[10] != 'T' || !digits(t + 11, 2, &h) || t[13] != ':' ||
        !digits(t + 14, 2, &mi) || t[16] != ':' || !digits(t + 17, 2, &s))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    size_t i = 19;
    int ms = 0, scale = 100;
    if (i < len && t[i] == '.') {
        i++;
        size_t start = i;
        for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
            ms += (t[i] - '0') * scale;
            scale /= 10;
        }
        if (i == start)
            return -1;
    }
    if (i + 1 != len || t[i] != 'Z')
        return -1;
    return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + ms;
}

void s3_format_time_ms(int64_t ms, char out[96])
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)secs * 1000));
}
