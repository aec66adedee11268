/* http_start / http_wait: one request of a connector's sent on a host
 * thread, so that the server prepares the next page while the connector
 * decodes the last one. The request goes through host_http_send on a
 * shadow context of its own (its own connection and error record): the
 * connector's thread may keep using its context meanwhile, and the error,
 * if any, is copied over when the connector collects the response. */
#include "host_http.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

typedef enum { JOB_IDLE, JOB_QUEUED, JOB_DONE } job_state;

struct http_async {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    etl_ctx *shadow;
    job_state state;
    bool quit;
    etl_http_request request;    /* shallow: the connector keeps its strings alive */
    etl_http_prepare prepare;    /* run here once the response is in, or NULL */
    void *prepare_arg;
    etl_http_response response;
    etl_status status;
};

static void *worker_main(void *arg)
{
    struct http_async *a = arg;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (a->state != JOB_QUEUED && !a->quit)
            pthread_cond_wait(&a->changed, &a->lock);
        if (a->quit)
            break;
        pthread_mutex_unlock(&a->lock);
        etl_status st = host_http_send(a->shadow, &a->request, &a->response);
        if (st == ETL_OK && a->prepare)
            a->prepare(a->prepare_arg, &a->response);
        pthread_mutex_lock(&a->lock);
        a->status = st;
        a->state = JOB_DONE;
        pthread_cond_broadcast(&a->changed);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static struct http_async *async_of(etl_ctx *ctx)
{
    if (ctx->async != NULL)
        return ctx->async;
    struct http_async *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->shadow = ctx_new(ctx->label, ctx->run);
    a->response.struct_size = sizeof a->response;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->changed, NULL);
    if (a->shadow == NULL || pthread_create(&a->thread, NULL, worker_main, a) != 0) {
        pthread_cond_destroy(&a->changed);
        pthread_mutex_destroy(&a->lock);
        if (a->shadow)
            ctx_free(a->shadow);
        free(a);
        return NULL;
    }
    ctx->async = a;
    return a;
}

etl_status host_http_start(etl_ctx *ctx, const etl_http_request *req, etl_http_prepare prepare,
                           void *prepare_arg)
{
    struct http_async *a = async_of(ctx);
    if (a == NULL)
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "cannot start an HTTP worker thread");
    pthread_mutex_lock(&a->lock);
    job_state state = a->state;
    if (state == JOB_IDLE) {
        memset(&a->request, 0, sizeof a->request);
        memcpy(&a->request, req,
               req->struct_size < sizeof a->request ? req->struct_size : sizeof a->request);
        a->request.struct_size = sizeof a->request;
        a->prepare = prepare;
        a->prepare_arg = prepare_arg;
        a->state = JOB_QUEUED;
        pthread_cond_broadcast(&a->changed);
    }
    pthread_mutex_unlock(&a->lock);
    if (state != JOB_IDLE)
        return ctx_set_error(ctx, ETL_ERR_PERMANENT, 0,
                             "%s started a second HTTP request before collecting the first "
                             "(http_wait)", ctx->label);
    return ETL_OK;
}

etl_status host_http_wait(etl_ctx *ctx, etl_http_response *resp)
{
    struct http_async *a = ctx->async;
    if (a != NULL)
        pthread_mutex_lock(&a->lock);
    if (a == NULL || a->state == JOB_IDLE) {
        if (a != NULL)
            pthread_mutex_unlock(&a->lock);
        return ctx_set_error(ctx, ETL_ERR_PERMANENT, 0,
                             "%s waited for an HTTP request it did not start (http_start)",
                             ctx->label);
    }
    while (a->state != JOB_DONE)
        pthread_cond_wait(&a->changed, &a->lock);
    etl_status st = a->status;
    host_http_response_free(resp);
    uint32_t size = resp->struct_size;
    *resp = a->response;
    resp->struct_size = size;
    memset(&a->response, 0, sizeof a->response);
    a->response.struct_size = sizeof a->response;
    a->state = JOB_IDLE;
    pthread_mutex_unlock(&a->lock);
    if (st != ETL_OK)
        ctx_set_error(ctx, st, a->shadow->vendor_code, "%s", ctx_error_message(a->shadow));
    return st;
}

void host_http_async_release(etl_ctx *ctx)
{
    struct http_async *a = ctx ? ctx->async : NULL;
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    while (a->state == JOB_QUEUED)   /* a request in progress ends by its timeout */
        pthread_cond_wait(&a->changed, &a->lock);
    a->quit = true;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    host_http_response_free(&a->response);
    pthread_cond_destroy(&a->changed);
    pthread_mutex_destroy(&a->lock);
    ctx_free(a->shadow);
    free(a);
    ctx->async = NULL;
}
