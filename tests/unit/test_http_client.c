/* HTTP client against a scripted HTTP/1.1 server of our own on 127.0.0.1
 * (a forked child, one process per connection, stopped by pid at the end):
 * status codes, headers, bodies, Retry-After, timeouts, refused and reset
 * connections, keep-alive, proxies from the environment, SigV4 on the wire. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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
