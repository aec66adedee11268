/* HTTP client against a scripted HTTP/1.1 server of our own on 127.0.0.1
 * (a forked child, one process per connection, stopped by pid at the end):
 * status codes, headers, bodies, Retry-After, timeouts, refused and reset
 * connections, keep-alive, proxies from the environment, SigV4 on the wire. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "context.h"
#include "host_http.h"
#include "http_client.h"
#include "sigv4.h"
#include "tap_runner.h"

static pid_t server_pid;
static int server_port;

/* ------------------------------------------------------------------ */
/* The scripted server                                                 */
/* ------------------------------------------------------------------ */

typedef struct server_request {
    char head[16384];                /* request line and headers, NUL-terminated */
    char method[16];
    char target[4096];
    char *body;
    size_t body_len;
} server_request;

static bool write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static size_t content_length(const char *head)
{
    for (const char *p = head; (p = strchr(p, '\n')) != NULL;) {
        p++;
        if (strncasecmp(p, "Content-Length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

/* Reads one request; false at end of connection. Bytes past the head that
 * were already read are kept in carry for the next request. */
static bool read_request(int fd, server_request *r, char *carry, size_t *carry_len)
{
    size_t have = *carry_len;
    memcpy(r->head, carry, have);
    char *end;
    while (r->head[have] = '\0', (end = strstr(r->head, "\r\n\r\n")) == NULL) {
        if (have + 1 >= sizeof r->head)
            return false;
        ssize_t n = read(fd, r->head + have, sizeof r->head - 1 - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
    }
    size_t head_len = (size_t)(end - r->head) + 4;
    r->body_len = content_length(r->head);
    r->body = malloc(r->body_len + 1);
    size_t extra = have - head_len, take = extra < r->body_len ? extra : r->body_len;
    memcpy(r->body, r->head + head_len, take);
    *carry_len = extra - take;
    memcpy(carry, r->head + head_len + take, *carry_len);
    for (size_t got = take; got < r->body_len;) {
        ssize_t n = read(fd, r->body + got, r->body_len - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    r->head[head_len - 2] = '\0';
    sscanf(r->head, "%15s %4095s", r->method, r->target);
    return true;
}

static void respond(int fd, const server_request *r, int status, const char *extra_headers,
                    const void *body, size_t len)
{
    char head[1024];
    if (status == 204 || status == 304)
        len = 0; /* these never carry a body */
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\n%s\r\n",
                     status, len, extra_headers ? extra_headers : "");
    write_all(fd, head, (size_t)n);
    if (strcmp(r->method, "HEAD") != 0)
        write_all(fd, body, len);
}

static void respond_text(int fd, const server_request *r, int status, const char *extra,
                         const char *text)
{
    respond(fd, r, status, extra, text, strlen(text));
}

static void reset_connection(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void respond_retry_after_date(int fd, const server_request *r)
{
    char extra[128], date[64];
    time_t later = time(NULL) + 10;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(extra, sizeof extra, "Retry-After: %s\r\n", date);
    respond_text(fd, r, 503, extra, "busy");
}

static void respond_big(int fd, const server_request *r, size_t n)
{
    char *body = malloc(n ? n : 1);
    memset(body, 'x', n);
    respond(fd, r, 200, NULL, body, n);
    free(body);
}

/* Returns false when the connection must end. */
static bool serve_one(int fd, server_request *r)
{
    const char *t = r->target;
    char extra[256];
    if (strncmp(t, "/echo-head", 10) == 0) {
        respond_text(fd, r, 200, NULL, r->head);
    } else if (strcmp(t, "/echo-body") == 0) {
        respond(fd, r, 200, "Content-Type: application/octet-stream\r\n", r->body, r->body_len);
    } else if (strncmp(t, "/status/", 8) == 0) {
        snprintf(extra, sizeof extra, "status %d", atoi(t + 8));
        respond_text(fd, r, atoi(t + 8), NULL, extra);
    } else if (strncmp(t, "/sleep/", 7) == 0) {
        usleep((useconds_t)atoi(t + 7) * 1000);
        respond_text(fd, r, 200, NULL, "slept");
    } else if (strcmp(t, "/reset") == 0) {
        reset_connection(fd);
        return false;
    } else if (strcmp(t, "/close") == 0) {
        return false;
    } else if (strncmp(t, "/retry-after/", 13) == 0) {
        snprintf(extra, sizeof extra, "Retry-After: %s\r\n", t + 13);
        respond_text(fd, r, 429, extra, "slow down");
    } else if (strcmp(t, "/retry-after-date") == 0) {
        respond_retry_after_date(fd, r);
    } else if (strcmp(t, "/headers") == 0) {
        respond_text(fd, r, 200,
                     "Lambda-Runtime-Deadline-Ms: 1700000000000\r\nX-Mixed-Case:   Yes  \r\n"
                     "X-Dup: a\r\nX-Dup: b\r\nX-Folded: one\r\n  two\r\nX-Empty:\r\n",
                     "{}");
    } else if (strcmp(t, "/conn") == 0) {
        snprintf(extra, sizeof extra, "%ld", (long)getpid());
        respond_text(fd, r, 200, NULL, extra);
    } else if (strncmp(t, "/big/", 5) == 0) {
        respond_big(fd, r, (size_t)atol(t + 5));
    } else if (strcmp(t, "/interim") == 0) {
        const char *interim = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n";
        write_all(fd, interim, strlen(interim));
        respond_text(fd, r, 201, "X-Final: yes\r\n", "created");
    } else {
        respond_text(fd, r, 404, NULL, "no such script");
    }
    return true;
}

static void serve_connection(int fd)
{
    static char carry[16384];
    size_t carry_len = 0;
    server_request *r = malloc(sizeof *r);
    while (read_request(fd, r, carry, &carry_len)) {
        bool go_on = serve_one(fd, r);
        free(r->body);
        if (!go_on)
            break;
    }
    free(r);
}

static void server_loop(int listener)
{
    signal(SIGCHLD, SIG_IGN); /* connection processes reap themselves */
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(listener);
            serve_connection(fd);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}

static int listen_on_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("test server");
        exit(EXIT_FAILURE);
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

static void start_server(void)
{
    int listener = listen_on_loopback(&server_port);
    fflush(stdout);
    server_pid = fork();
    if (server_pid == 0) {
        server_loop(listener);
        _exit(0);
    }
    close(listener);
}

static void stop_server(void)
{
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    int port;
    close(listen_on_loopback(&port));
    return port;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char url_buf[4][512];

static const char *url(int slot, const char *path)
{
    snprintf(url_buf[slot], sizeof url_buf[slot], "http://127.0.0.1:%d%s", server_port, path);
    return url_buf[slot];
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends req on a fresh client; returns the status of http_send. */
static etl_status send_once(const http_request *req, http_response *resp, etl_ctx *ctx)
{
    http_client *client = http_client_new();
    ck_assert_ptr_nonnull(client);
    etl_status st = http_send(client, req, resp, ctx);
    http_client_free(client);
    return st;
}

static etl_status get(const char *path, long timeout_ms, http_response *resp, etl_ctx *ctx)
{
    http_request req = {.url = url(0, path), .timeout_ms = timeout_ms};
    return send_once(&req, resp, ctx);
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

START_TEST(any_status_is_a_response)
{
    static const int codes[] = {200, 204, 404, 429, 500, 503};
    http_client *client = http_client_new();
    etl_ctx *ctx = ctx_new("test", NULL);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char path[32], text[32];
        snprintf(path, sizeof path, "/status/%d", codes[i]);
        http_request req = {.url = url(0, path), .timeout_ms = 5000};
        http_response resp;
        etl_status st = http_send(client, &req, &resp, ctx);
        ck_assert_msg(st == ETL_OK, "%s: %s", path, ctx_error_message(ctx));
        ck_assert_int_eq(resp.status, codes[i]);
        snprintf(text, sizeof text, "status %d", codes[i]);
        ck_assert_str_eq(buf_cstr(&resp.body), codes[i] == 204 ? "" : text);
        ck_assert_int_eq(resp.retry_after_ms, -1);
        http_response_free(&resp);
    }
    ctx_free(ctx);
    http_client_free(client);
}
END_TEST

START_TEST(response_headers_by_name)
{
    http_response resp;
    ck_assert_int_eq(get("/headers", 5000, &resp, NULL), ETL_OK);
    ck_assert_str_eq(http_response_header(&resp, "lambda-runtime-deadline-ms"), "1700000000000");
    ck_assert_str_eq(http_response_header(&resp, "LAMBDA-RUNTIME-DEADLINE-MS"), "1700000000000");
    ck_assert_str_eq(http_response_header(&resp, "x-mixed-case"), "Yes");
    ck_assert_str_eq(http_response_header(&resp, "X-Dup"), "a");
    ck_assert_str_eq(http_response_header(&resp, "X-Folded"), "one two");
    ck_assert_str_eq(http_response_header(&resp, "X-Empty"), "");
    ck_assert_str_eq(http_response_header(&resp, "Content-Length"), "2");
    ck_assert_ptr_null(http_response_header(&resp, "X-Absent"));
    ck_assert_ptr_null(http_response_header(&resp, "X-Dup:"));
    http_response_free(&resp);
}
END_TEST

START_TEST(only_final_response_headers_are_kept)
{
    http_response resp;
    ck_assert_int_eq(get("/interim", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 201);
    ck_assert_str_eq(http_response_header(&resp, "X-Final"), "yes");
    ck_assert_ptr_null(http_response_header(&resp, "X-Interim"));
    ck_assert_str_eq(buf_cstr(&resp.body), "created");
    http_response_free(&resp);
}
END_TEST

START_TEST(retry_after_seconds_and_date)
{
    http_response resp;
    ck_assert_int_eq(get("/retry-after/7", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 429);
    ck_assert_int_eq(resp.retry_after_ms, 7000);
    http_response_free(&resp);

    ck_assert_int_eq(get("/retry-after/0", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.retry_after_ms, 0);
    http_response_free(&resp);

    ck_assert_int_eq(get("/retry-after/99999999999", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.retry_after_ms, 24LL * 3600 * 1000);
    http_response_free(&resp);

    ck_assert_int_eq(get("/retry-after/soon", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.retry_after_ms, -1);
    http_response_free(&resp);

    ck_assert_int_eq(get("/retry-after-date", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 503);
    ck_assert_int_ge(resp.retry_after_ms, 8000);
    ck_assert_int_le(resp.retry_after_ms, 11000);
    http_response_free(&resp);
}
END_TEST

START_TEST(binary_body_round_trip)
{
    size_t n = 3 * 1024 * 1024 + 17; /* past curl's Expect: 100-continue threshold */
    unsigned char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (unsigned char)(i * 7 + (i >> 11));
    http_request req = {.method = "PUT", .url = url(0, "/echo-body"), .body = body,
                        .body_len = n, .timeout_ms = 20000};
    http_response resp;
    ck_assert_int_eq(send_once(&req, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_uint_eq(resp.body.len, n);
    ck_assert(memcmp(resp.body.data, body, n) == 0);
    http_response_free(&resp);
    free(body);
}
END_TEST

START_TEST(request_line_and_headers_on_the_wire)
{
    const char *names[] = {"X-Custom", "X-Empty-Value"}, *values[] = {"v 1", ""};
    char big[2 * 1024 * 1024];
    memset(big, 'b', sizeof big);
    http_request req = {.method = "POST", .url = url(0, "/echo-head?x=1"), .header_names = names,
                        .header_values = values, .header_count = 2, .body = big,
                        .body_len = sizeof big, .timeout_ms = 20000};
    http_response resp;
    ck_assert_int_eq(send_once(&req, &resp, NULL), ETL_OK);
    const char *head = buf_cstr(&resp.body);
    ck_assert_msg(strncmp(head, "POST /echo-head?x=1 HTTP/1.1\r\n", 30) == 0, "%s", head);
    ck_assert_ptr_nonnull(strstr(head, "\r\nX-Custom: v 1\r\n"));
    ck_assert_ptr_nonnull(strstr(head, "\r\nX-Empty-Value:"));
    ck_assert_ptr_nonnull(strstr(head, "\r\nContent-Length: 2097152\r\n"));
    ck_assert_msg(strcasestr(head, "Expect") == NULL, "%s", head);
    ck_assert_msg(strcasestr(head, "Content-Type") == NULL, "%s", head);
    http_response_free(&resp);

    /* DELETE and HEAD without bodies; an empty POST sends Content-Length: 0. */
    http_request del = {.method = "DELETE", .url = url(0, "/echo-head"), .timeout_ms = 5000};
    ck_assert_int_eq(send_once(&del, &resp, NULL), ETL_OK);
    ck_assert_msg(strncmp(buf_cstr(&resp.body), "DELETE /echo-head HTTP/1.1", 26) == 0, "%s",
                  resp.body.data);
    ck_assert_ptr_null(strcasestr(resp.body.data, "Content-Length"));
    http_response_free(&resp);
    http_request post = {.method = "POST", .url = url(0, "/echo-head"), .timeout_ms = 5000};
    ck_assert_int_eq(send_once(&post, &resp, NULL), ETL_OK);
    ck_assert_ptr_nonnull(strstr(buf_cstr(&resp.body), "Content-Length: 0\r\n"));
    http_response_free(&resp);
    http_request head_req = {.method = "HEAD", .url = url(0, "/status/200"), .timeout_ms = 5000};
    ck_assert_int_eq(send_once(&head_req, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_uint_eq(resp.body.len, 0);
    http_response_free(&resp);
}
END_TEST

START_TEST(response_size_limit)
{
    http_request req = {.url = url(0, "/big/100000"), .timeout_ms = 5000,
                        .max_response_bytes = 1000};
    http_response resp;
    etl_ctx *ctx = ctx_new("test", NULL);
    ck_assert_int_eq(send_once(&req, &resp, ctx), ETL_ERR_PERMANENT);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "larger than 1000 bytes"));
    http_response_free(&resp);
    req.max_response_bytes = 100000;
    ck_assert_int_eq(send_once(&req, &resp, ctx), ETL_OK);
    ck_assert_uint_eq(resp.body.len, 100000);
    http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Failures                                                            */
/* ------------------------------------------------------------------ */

START_TEST(timeout_is_retryable)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    http_response resp;
    int64_t start = now_ms();
    ck_assert_int_eq(get("/sleep/3000", 300, &resp, ctx), ETL_ERR_RETRY);
    int64_t took = now_ms() - start;
    ck_assert_int_ge(took, 250);
    ck_assert_int_lt(took, 2500);
    const char *msg = ctx_error_message(ctx);
    ck_assert_msg(strstr(msg, "GET http://127.0.0.1:") && strstr(msg, "/sleep/3000") &&
                      strstr(msg, "curl error 28"), "%s", msg);
    ck_assert_int_eq(resp.status, 0);
    http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

START_TEST(no_timeout_waits_for_a_long_poll)
{
    http_response resp;
    int64_t start = now_ms();
    ck_assert_int_eq(get("/sleep/1200", 0, &resp, NULL), ETL_OK);
    ck_assert_int_ge(now_ms() - start, 1150);
    ck_assert_str_eq(buf_cstr(&resp.body), "slept");
    http_response_free(&resp);
}
END_TEST

START_TEST(refused_connection_is_retryable_and_redacted)
{
    char target[256];
    snprintf(target, sizeof target, "http://user:hunter2@127.0.0.1:%d/path?X-Amz-Signature=abc#f",
             closed_port());
    http_request req = {.url = target, .timeout_ms = 2000};
    http_response resp;
    etl_ctx *ctx = ctx_new("test", NULL);
    ck_assert_int_eq(send_once(&req, &resp, ctx), ETL_ERR_RETRY);
    const char *msg = ctx_error_message(ctx);
    ck_assert_msg(strstr(msg, "http://127.0.0.1:") && strstr(msg, "/path:") &&
                      strstr(msg, "curl error 7"), "%s", msg);
    ck_assert_msg(!strstr(msg, "hunter2") && !strstr(msg, "user") && !strstr(msg, "abc"), "%s",
                  msg);
    ck_assert_int_eq(ctx_error_status(ctx), ETL_ERR_RETRY);
    http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

START_TEST(reset_and_empty_reply_are_retryable)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    http_response resp;
    ck_assert_int_eq(get("/reset", 5000, &resp, ctx), ETL_ERR_RETRY);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "/reset"));
    http_response_free(&resp);
    ck_assert_int_eq(get("/close", 5000, &resp, ctx), ETL_ERR_RETRY);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "curl error 52"));
    http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

START_TEST(bad_requests_are_config_errors)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    http_response resp;
    http_request no_url = {0};
    ck_assert_int_eq(send_once(&no_url, &resp, ctx), ETL_ERR_CONFIG);
    http_request bad_method = {.method = "GE T", .url = url(0, "/status/200")};
    ck_assert_int_eq(send_once(&bad_method, &resp, ctx), ETL_ERR_CONFIG);
    const char *names[] = {"X-Inject"}, *values[] = {"a\r\nEvil: 1"};
    http_request injected = {.url = url(0, "/status/200"), .header_names = names,
                             .header_values = values, .header_count = 1};
    ck_assert_int_eq(send_once(&injected, &resp, ctx), ETL_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "X-Inject"));
    http_request ftp = {.url = "ftp://127.0.0.1/x", .timeout_ms = 1000};
    ck_assert_int_eq(send_once(&ftp, &resp, ctx), ETL_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "ftp://127.0.0.1/x"));
    http_request spaces = {.url = "http://127.0.0.1:1/a b", .timeout_ms = 1000};
    ck_assert_int_eq(send_once(&spaces, &resp, ctx), ETL_ERR_CONFIG);
    http_request no_body = {.url = url(0, "/"), .body_len = 4};
    ck_assert_int_eq(send_once(&no_body, &resp, ctx), ETL_ERR_CONFIG);
    ck_assert_int_eq(http_send(NULL, &no_body, &resp, ctx), ETL_ERR_CONFIG);
    http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

START_TEST(url_redaction)
{
    static const char *const cases[][2] = {
        {"https://AK:SK@s3.amazonaws.com/b/k?X-Amz-Credential=AK#frag", "https://s3.amazonaws.com/b/k"},
        {"http://127.0.0.1:9200/_search?scroll=1m", "http://127.0.0.1:9200/_search"},
        {"http://host", "http://host"},
        {"http://a@b@host:1?q", "http://host:1"},
        {"/relative/path?x", "/relative/path"},
        {"", ""},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_redact_url(cases[i][0], out, sizeof out);
        ck_assert_str_eq(out, cases[i][1]);
    }
    http_redact_url(NULL, out, sizeof out);
    ck_assert_str_eq(out, "(no URL)");
    http_redact_url("http://host/long", out, 8);
    ck_assert_str_eq(out, "http://");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Connections and proxies                                             */
/* ------------------------------------------------------------------ */

static long connection_pid(http_client *client)
{
    http_request req = {.url = url(1, "/conn"), .timeout_ms = 5000};
    http_response resp;
    ck_assert_int_eq(http_send(client, &req, &resp, NULL), ETL_OK);
    long pid = atol(buf_cstr(&resp.body));
    http_response_free(&resp);
    return pid;
}

START_TEST(connections_are_kept_alive)
{
    http_client *a = http_client_new(), *b = http_client_new();
    long first = connection_pid(a);
    ck_assert_int_gt(first, 0);
    /* A 404 in between does not cost the connection either. */
    http_request req = {.url = url(0, "/nowhere"), .timeout_ms = 5000};
    http_response resp;
    ck_assert_int_eq(http_send(a, &req, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 404);
    http_response_free(&resp);
    ck_assert_int_eq(connection_pid(a), first);
    ck_assert_int_ne(connection_pid(b), first);
    http_client_free(a);
    http_client_free(b);
}
END_TEST

START_TEST(proxy_variables_are_ignored)
{
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", closed_port());
    setenv("http_proxy", proxy, 1);
    setenv("HTTP_PROXY", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);
    setenv("all_proxy", proxy, 1);
    http_response resp;
    ck_assert_int_eq(get("/status/200", 5000, &resp, NULL), ETL_OK);
    ck_assert_int_eq(resp.status, 200);
    http_response_free(&resp);
    /* An explicit proxy is used: this one refuses. */
    http_request req = {.url = url(0, "/status/200"), .timeout_ms = 5000, .proxy = proxy};
    ck_assert_int_eq(send_once(&req, &resp, NULL), ETL_ERR_RETRY);
    http_response_free(&resp);
}
END_TEST

/* ------------------------------------------------------------------ */
/* SigV4 on the wire                                                   */
/* ------------------------------------------------------------------ */

/* The value of `name` in an echoed request head, or "" (into out). */
static void head_value(const char *head, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = head; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)strcspn(v, "\r"), v);
            return;
        }
    }
}

/* Re-signs what the server received and compares with what was sent. */
static void check_wire_signature(const char *head, const http_request *sent)
{
    const http_sigv4 *s = sent->sigv4;
    char method[16], target[1024], auth[1024], signed_list[512];
    ck_assert_int_eq(sscanf(head, "%15s %1023s", method, target), 2);
    head_value(head, "Authorization", auth, sizeof auth);
    const char *sh = strstr(auth, "SignedHeaders=");
    ck_assert_msg(sh != NULL, "no Authorization in %s", head);
    snprintf(signed_list, sizeof signed_list, "%.*s", (int)strcspn(sh + 14, ","), sh + 14);

    const char *names[16];
    char values[16][512];
    const char *value_ptrs[16];
    size_t count = 0;
    for (char *save = NULL, *name = strtok_r(signed_list, ";", &save); name && count < 16;
         name = strtok_r(NULL, ";", &save)) {
        if (strcmp(name, "x-amz-date") == 0 || strcmp(name, "x-amz-content-sha256") == 0)
            continue; /* the signer adds these itself */
        head_value(head, name, values[count], sizeof values[count]);
        names[count] = name;
        value_ptrs[count] = values[count];
        count++;
    }
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    sigv4_request again = {.method = method, .path = target, .query = query,
                           .header_names = names, .header_values = value_ptrs,
                           .header_count = count, .payload_hash = s->payload_hash,
                           .body = sent->body, .body_len = sent->body_len};
    sigv4_result r;
    ck_assert_int_eq(sigv4_sign(&again, &s->credentials, s->region, s->service, s->when,
                                s->flags, &r), ETL_OK);
    ck_assert_str_eq(buf_cstr(&r.authorization), auth);
    sigv4_result_free(&r);
}

START_TEST(sigv4_signature_matches_the_wire)
{
    http_sigv4 s = {.region = "eu-west-1", .service = "s3",
                    .credentials = {"AKIDEXAMPLE", "SECRET", "TOKEN"},
                    .flags = SIGV4_FLAGS_S3, .payload_hash = SIGV4_UNSIGNED_PAYLOAD,
                    .when = 1700000000};
    const char *names[] = {"Content-Type", "If-None-Match"};
    const char *values[] = {"application/xml", "*"};
    http_request req = {.method = "PUT",
                        .url = url(0, "/echo-head/bucket/a%20b%2Bc.txt?uploadId=x%2Fy&partNumber=2"),
                        .header_names = names, .header_values = values, .header_count = 2,
                        .body = "<x/>", .body_len = 4, .timeout_ms = 5000, .sigv4 = &s};
    http_response resp;
    ck_assert_int_eq(send_once(&req, &resp, NULL), ETL_OK);
    const char *head = buf_cstr(&resp.body);
    char host[64], expected_host[64], v[256];
    head_value(head, "Host", host, sizeof host);
    snprintf(expected_host, sizeof expected_host, "127.0.0.1:%d", server_port);
    ck_assert_str_eq(host, expected_host);
    head_value(head, "X-Amz-Date", v, sizeof v);
    ck_assert_str_eq(v, "20231114T221320Z");
    head_value(head, "x-amz-content-sha256", v, sizeof v);
    ck_assert_str_eq(v, "UNSIGNED-PAYLOAD");
    head_value(head, "X-Amz-Security-Token", v, sizeof v);
    ck_assert_str_eq(v, "TOKEN");
    head_value(head, "Authorization", v, sizeof v);
    ck_assert_msg(strstr(v, "SignedHeaders=content-type;host;if-none-match;x-amz-content-sha256;"
                            "x-amz-date;x-amz-security-token,"), "%s", v);
    check_wire_signature(head, &req);
    http_response_free(&resp);

    /* Default (non-S3) rules, a hashed body, no session token. */
    http_sigv4 lambda = {.region = "us-east-1", .service = "lambda",
                         .credentials = {"AK", "SK", NULL}, .flags = SIGV4_FLAGS_DEFAULT,
                         .when = 1700000000};
    const char *inv_names[] = {"X-Amz-Invocation-Type"}, *inv_values[] = {"Event"};
    http_request invoke = {.method = "POST",
                           .url = url(0, "/echo-head/2015-03-31/functions/f/invocations?Qualifier=%24LATEST"),
                           .header_names = inv_names, .header_values = inv_values,
                           .header_count = 1, .body = "{\"hop\":1}", .body_len = 9,
                           .timeout_ms = 5000, .sigv4 = &lambda};
    ck_assert_int_eq(send_once(&invoke, &resp, NULL), ETL_OK);
    head = buf_cstr(&resp.body);
    head_value(head, "x-amz-content-sha256", v, sizeof v);
    ck_assert_str_eq(v, "");
    head_value(head, "X-Amz-Security-Token", v, sizeof v);
    ck_assert_str_eq(v, "");
    check_wire_signature(head, &invoke);
    http_response_free(&resp);
}
END_TEST

START_TEST(sigv4_errors_are_config_errors)
{
    http_sigv4 s = {.region = "eu-west-1", .service = "s3", .credentials = {NULL, NULL, NULL},
                    .flags = SIGV4_FLAGS_S3};
    http_request req = {.url = url(0, "/status/200"), .timeout_ms = 5000, .sigv4 = &s};
    http_response resp;
    etl_ctx *ctx = ctx_new("test", NULL);
    ck_assert_int_eq(send_once(&req, &resp, ctx), ETL_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "AWS_ACCESS_KEY_ID"));
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "/status/200"));
    http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Requests in the background (host API 1.2 http_start / http_wait)     */
/* ------------------------------------------------------------------ */

static etl_http_request host_get(const char *full_url)
{
    return (etl_http_request){.struct_size = sizeof(etl_http_request), .url = full_url,
                              .timeout_ms = 5000};
}

START_TEST(background_request_overlaps_the_callers_work)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    etl_http_request slow = host_get(url(1, "/sleep/400"));
    int64_t start = now_ms();
    ck_assert_int_eq(host_http_start(ctx, &slow, NULL, NULL), ETL_OK);
    ck_assert_int_lt(now_ms() - start, 200);
    /* The same ctx sends meanwhile, on its own connection. */
    etl_http_request quick = host_get(url(2, "/status/200"));
    etl_http_response now = {.struct_size = sizeof now};
    ck_assert_int_eq(host_http_send(ctx, &quick, &now), ETL_OK);
    ck_assert_int_eq(now.status, 200);
    ck_assert_int_lt(now_ms() - start, 350);
    etl_http_response later = {.struct_size = sizeof later};
    ck_assert_int_eq(host_http_wait(ctx, &later), ETL_OK);
    ck_assert_int_ge(now_ms() - start, 380);
    ck_assert_int_eq(later.status, 200);
    ck_assert_str_eq(later.body.data, "slept");
    ck_assert_int_eq(later.attempts, 1);
    host_http_response_free(&now);
    host_http_response_free(&later);
    /* Again on the same worker: it is kept for the ctx's life. */
    ck_assert_int_eq(host_http_start(ctx, &quick, NULL, NULL), ETL_OK);
    ck_assert_int_eq(host_http_wait(ctx, &later), ETL_OK);
    ck_assert_int_eq(later.status, 200);
    ck_assert_str_eq(later.body.data, "status 200");
    host_http_response_free(&later);
    ctx_free(ctx);
}
END_TEST

typedef struct prepared {
    pthread_t thread;
    size_t body_len;
    int status;
    int calls;
} prepared;

static void note_response(void *arg, const etl_http_response *resp)
{
    prepared *p = arg;
    p->thread = pthread_self();
    p->body_len = resp->body.len;
    p->status = resp->status;
    p->calls++;
}

/* prepare runs on the host's thread, on the response, before http_wait
 * returns it; not when there is no response. */
START_TEST(background_prepare_sees_the_response_first)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    prepared seen = {.calls = 0};
    etl_http_request req = host_get(url(1, "/status/404"));
    ck_assert_int_eq(host_http_start(ctx, &req, note_response, &seen), ETL_OK);
    etl_http_response resp = {.struct_size = sizeof resp};
    ck_assert_int_eq(host_http_wait(ctx, &resp), ETL_OK);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert(!pthread_equal(seen.thread, pthread_self()));
    ck_assert_int_eq(seen.status, 404);
    ck_assert_uint_eq(seen.body_len, resp.body.len);
    host_http_response_free(&resp);
    char target[128];
    snprintf(target, sizeof target, "http://127.0.0.1:%d/gone", closed_port());
    etl_http_request gone = host_get(target);
    ck_assert_int_eq(host_http_start(ctx, &gone, note_response, &seen), ETL_OK);
    ck_assert_int_eq(host_http_wait(ctx, &resp), ETL_ERR_RETRY);
    ck_assert_int_eq(seen.calls, 1);
    host_http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

START_TEST(background_failure_reaches_the_callers_ctx)
{
    char target[128];
    snprintf(target, sizeof target, "http://127.0.0.1:%d/gone", closed_port());
    etl_ctx *ctx = ctx_new("source es", NULL);
    etl_http_request req = host_get(target);
    ck_assert_int_eq(host_http_start(ctx, &req, NULL, NULL), ETL_OK);
    etl_http_response resp = {.struct_size = sizeof resp};
    ck_assert_int_eq(host_http_wait(ctx, &resp), ETL_ERR_RETRY);
    ck_assert_int_eq(ctx_error_status(ctx), ETL_ERR_RETRY);
    const char *msg = ctx_error_message(ctx);
    ck_assert_msg(strstr(msg, "/gone") && strstr(msg, "curl error 7"), "%s", msg);
    ck_assert_int_eq(resp.status, 0);
    host_http_response_free(&resp);
    ctx_free(ctx);
}
END_TEST

START_TEST(background_misuse_is_refused)
{
    etl_ctx *ctx = ctx_new("source es", NULL);
    etl_http_response resp = {.struct_size = sizeof resp};
    ck_assert_int_eq(host_http_wait(ctx, &resp), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(ctx_error_message(ctx), "did not start"), "%s", ctx_error_message(ctx));
    etl_http_request req = host_get(url(1, "/sleep/200"));
    ck_assert_int_eq(host_http_start(ctx, &req, NULL, NULL), ETL_OK);
    ck_assert_int_eq(host_http_start(ctx, &req, NULL, NULL), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(ctx_error_message(ctx), "second HTTP request"), "%s",
                  ctx_error_message(ctx));
    ck_assert_int_eq(host_http_wait(ctx, &resp), ETL_OK);
    ck_assert_str_eq(resp.body.data, "slept");
    host_http_response_free(&resp);
    /* Closed with a request outstanding: waits for it, leaks nothing. */
    ck_assert_int_eq(host_http_start(ctx, &req, NULL, NULL), ETL_OK);
    int64_t start = now_ms();
    ctx_free(ctx);
    ck_assert_int_ge(now_ms() - start, 100);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *http_suite(void)
{
    Suite *s = suite_create("http_client");
    TCase *responses = tcase_create("responses");
    tcase_set_timeout(responses, 30);
    tcase_add_test(responses, any_status_is_a_response);
    tcase_add_test(responses, response_headers_by_name);
    tcase_add_test(responses, only_final_response_headers_are_kept);
    tcase_add_test(responses, retry_after_seconds_and_date);
    tcase_add_test(responses, binary_body_round_trip);
    tcase_add_test(responses, request_line_and_headers_on_the_wire);
    tcase_add_test(responses, response_size_limit);
    suite_add_tcase(s, responses);

    TCase *failures = tcase_create("failures");
    tcase_set_timeout(failures, 30);
    tcase_add_test(failures, timeout_is_retryable);
    tcase_add_test(failures, no_timeout_waits_for_a_long_poll);
    tcase_add_test(failures, refused_connection_is_retryable_and_redacted);
    tcase_add_test(failures, reset_and_empty_reply_are_retryable);
    tcase_add_test(failures, bad_requests_are_config_errors);
    tcase_add_test(failures, url_redaction);
    suite_add_tcase(s, failures);

    TCase *conns = tcase_create("connections");
    tcase_set_timeout(conns, 30);
    tcase_add_test(conns, connections_are_kept_alive);
    tcase_add_test(conns, proxy_variables_are_ignored);
    tcase_add_test(conns, sigv4_signature_matches_the_wire);
    tcase_add_test(conns, sigv4_errors_are_config_errors);
    suite_add_tcase(s, conns);

    TCase *background = tcase_create("background");
    tcase_set_timeout(background, 30);
    tcase_add_test(background, background_request_overlaps_the_callers_work);
    tcase_add_test(background, background_prepare_sees_the_response_first);
    tcase_add_test(background, background_failure_reaches_the_callers_ctx);
    tcase_add_test(background, background_misuse_is_refused);
    suite_add_tcase(s, background);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    start_server();
    int rc = run_suite_as_tap(http_suite());
    stop_server();
    return rc;
}
