/* `etl lambda`: the Runtime API loop (docs/lambda.md).
 *
 * One invocation = one slice: GET /next (long poll), parse the event, load
 * the pipeline, run it with the invocation's deadline (minus a margin for
 * answering), then POST the response ({done, state_key, ...}) or the error.
 * In self-invoke mode a suspended slice first invokes the same function
 * asynchronously with hop + 1. The state travels by reference (the
 * pipeline's state store and state_key), never the data. */
#include "lambda_runtime.h"

#include <cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "context.h"
#include "exit_status.h"
#include "http_client.h"
#include "log.h"
#include "pipeline.h"
#include "runner.h"
#include "strutil.h"

#define RUNTIME_API_PATH "/2018-06-01/runtime"
#define NEXT_ATTEMPTS 5              /* connection failures on /next before giving up */
#define INVOKE_ATTEMPTS 4            /* Invoke calls on 429, 5xx or a lost connection */
#define INVOKE_TIMEOUT_MS 5000
#define POST_TIMEOUT_MS 10000
#define MIN_SLICE_MS 100             /* below this, do not start a run at all */
#define SOURCE "lambda"

typedef struct runtime {
    const lambda_options *options;
    http_client *http;
    char base_url[320];              /* http://host:port/2018-06-01/runtime */
    const char *task_root;           /* LAMBDA_TASK_ROOT, or NULL */
} runtime;

typedef struct invocation {
    char request_id[128];
    int64_t deadline_ms;             /* Unix ms from Lambda-Runtime-Deadline-Ms; 0: none */
    etl_buf event;
} invocation;

typedef struct lambda_event {
    cJSON *json;                     /* the whole event: the next hop is a copy */
    const char *pipeline;            /* as given (relative to the task root) */
    const char *state_key;           /* optional: checked against the pipeline's */
    char *pipeline_path;             /* resolved */
    int64_t hop;
    int64_t max_hops;
    bool self_invoke;
    int64_t margin_ms;
} lambda_event;

/* Everything one invocation produced, for the response or the error. */
typedef struct slice {
    lambda_event ev;
    pipeline *p;
    run_result result;
    const char *status;              /* "done", "suspended", "hop_limit" */
    bool skipped;                    /* too little time left to start */
    etl_buf invoke_error;            /* self-invoke failed: why */
    const char *error_type;          /* set on failure: "etl.Config" */
    etl_buf error_message;
} slice;

static int64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

static void on_stop_signal(int signo)
{
    (void)signo;
    run_interrupted = 1;
}

/* During a run SIGTERM stops it cleanly; while waiting on /next it ends the
 * process at once (nothing is in flight then). */
static void catch_stop_signals(bool during_run)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = during_run ? on_stop_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------- failures */

static bool fail(slice *s, const char *type, const char *fmt, ...) ETL_PRINTF(3, 4);

static bool fail(slice *s, const char *type, const char *fmt, ...)
{
    s->error_type = type;
    buf_reset(&s->error_message);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&s->error_message, fmt, ap);
    va_end(ap);
    return false;
}

static const char *error_type_for(int exit_status)
{
    switch (exit_status) {
    case EXIT_CONFIG:
    case EXIT_UNSUPPORTED: return "etl.Config";
    case EXIT_PLUGIN: return "etl.Plugin";
    case EXIT_DATA: return "etl.Data";
    case EXIT_IO: return "etl.IO";
    case EXIT_RETRIES_EXHAUSTED: return "etl.RetriesExhausted";
    case EXIT_AUTH: return "etl.Auth";
    case EXIT_STATE: return "etl.State";
    default: return "etl.Runtime";
    }
}

static const char *describe_exit(int exit_status)
{
    switch (exit_status) {
    case EXIT_CONFIG: return "invalid pipeline file";
    case EXIT_UNSUPPORTED: return "the pipeline asks for something not supported";
    case EXIT_PLUGIN: return "a plugin is missing or was refused";
    case EXIT_DATA: return "a malformed input record and no rejects file";
    case EXIT_IO: return "an I/O error (unreadable input, full disk, permission)";
    case EXIT_RETRIES_EXHAUSTED: return "a retryable error outlasted the retries";
    case EXIT_AUTH: return "credentials refused";
    case EXIT_STATE: return "the state is corrupt, foreign or leased by another run";
    case EXIT_INTERRUPTED: return "interrupted (SIGTERM or SIGINT)";
    default: return "a failure while running";
    }
}

/* ---------------------------------------------------------------- Runtime API calls */

static void log_http_failure(const char *what, const http_response *resp)
{
    log_msg(ETL_LOG_ERROR, SOURCE, "%s: the Runtime API answered %ld: %.300s", what,
            resp->status, resp->body.data ? resp->body.data : "");
}

/* POSTs a JSON body to base_url + path. Returns the HTTP status, or 0 when
 * no answer came (the Runtime API is gone). */
static long post_json(runtime *rt, const char *path, const char *body, const char *error_type)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", rt->base_url, path);
    const char *names[] = {"Content-Type", "Lambda-Runtime-Function-Error-Type"};
    const char *values[] = {"application/json", error_type};
    http_request req = {.method = "POST", .url = url, .header_names = names,
                        .header_values = values, .header_count = error_type ? 2 : 1,
                        .body = body, .body_len = strlen(body), .timeout_ms = POST_TIMEOUT_MS,
                        .max_response_bytes = 64 * 1024};
    http_response resp;
    long status = 0;
    if (http_send(rt->http, &req, &resp, NULL) != ETL_OK)
        log_msg(ETL_LOG_ERROR, SOURCE, "POST %s: %s", path, ctx_error_message(NULL));
    else if ((status = resp.status) != 202)
        log_http_failure(path, &resp);
    http_response_free(&resp);
    return status;
}

static char *error_body(const char *type, const char *message)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "errorMessage", message);
    cJSON_AddStringToObject(body, "errorType", type);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

static long post_error(runtime *rt, const char *path, const char *type, const char *message)
{
    log_msg(ETL_LOG_ERROR, SOURCE, "%s: %s", type, message);
    char *body = error_body(type, message);
    long status = body ? post_json(rt, path, body, type) : 0;
    cJSON_free(body);
    return status;
}

static bool valid_request_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= sizeof(((invocation *)0)->request_id))
        return false;
    for (const char *c = id; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return false;
    }
    return true;
}

/* Takes what the /next answer carries into `inv`; false if it is unusable. */
static bool read_next_answer(http_response *resp, invocation *inv)
{
    const char *id = http_response_header(resp, "Lambda-Runtime-Aws-Request-Id");
    if (!valid_request_id(id)) {
        log_msg(ETL_LOG_ERROR, SOURCE,
                "GET /next: no usable Lambda-Runtime-Aws-Request-Id header ('%.80s')",
                id ? id : "");
        return false;
    }
    snprintf(inv->request_id, sizeof inv->request_id, "%s", id);
    const char *deadline = http_response_header(resp, "Lambda-Runtime-Deadline-Ms");
    if (deadline == NULL || !parse_int64(deadline, &inv->deadline_ms) || inv->deadline_ms <= 0) {
        log_msg(ETL_LOG_WARN, SOURCE,
                "invocation %s: no usable Lambda-Runtime-Deadline-Ms ('%.40s'); running "
                "without a deadline",
                id, deadline ? deadline : "");
        inv->deadline_ms = 0;
    }
    const char *trace = http_response_header(resp, "Lambda-Runtime-Trace-Id");
    if (trace && *trace)
        setenv("_X_AMZN_TRACE_ID", trace, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");
    inv->event = resp->body;
    memset(&resp->body, 0, sizeof resp->body);
    return true;
}

/* Long-polls for the next event (no timeout: Lambda freezes the process
 * between invocations). Retries a lost connection a few times. */
static int next_invocation(runtime *rt, invocation *inv)
{
    char url[512];
    snprintf(url, sizeof url, "%s/invocation/next", rt->base_url);
    for (int attempt = 1;; attempt++) {
        http_request req = {.url = url, .timeout_ms = 0};
        http_response resp;
        etl_status st = http_send(rt->http, &req, &resp, NULL);
        if (st == ETL_OK && resp.status == 200) {
            bool ok = read_next_answer(&resp, inv);
            http_response_free(&resp);
            return ok ? EXIT_OK : EXIT_FAILURE_RUNTIME;
        }
        if (st == ETL_OK)
            log_http_failure("GET /invocation/next", &resp);
        else
            log_msg(ETL_LOG_ERROR, SOURCE, "%s", ctx_error_message(NULL));
        http_response_free(&resp);
        if (st != ETL_ERR_RETRY || attempt >= NEXT_ATTEMPTS) {
            log_msg(ETL_LOG_ERROR, SOURCE, "the Runtime API at %s failed; exiting",
                    rt->base_url);
            return EXIT_FAILURE_RUNTIME;
        }
        sleep_ms(50LL << attempt);
    }
}

/* ---------------------------------------------------------------- the event */

static bool event_int(slice *s, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(s->ev.json, key);
    if (item == NULL || cJSON_IsNull(item))
        return true;
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1e300;
    if (!(v >= (double)lo && v <= (double)hi) || (double)(int64_t)v != v)
        return fail(s, "etl.BadEvent",
                    "the event's \"%s\" must be a whole number from %lld to %lld", key,
                    (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return true;
}

static bool event_string(slice *s, const char *key, bool required, const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(s->ev.json, key);
    if (item == NULL && !required)
        return true;
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
        return fail(s, "etl.BadEvent",
                    required ? "the event needs \"%s\": the pipeline file, e.g. "
                               "{\"pipeline\": \"pipelines/product.yaml\"}"
                             : "the event's \"%s\" must be a non-empty string",
                    key);
    *out = item->valuestring;
    return true;
}

static bool event_fields(slice *s)
{
    lambda_event *ev = &s->ev;
    const cJSON *self = cJSON_GetObjectItemCaseSensitive(ev->json, "self_invoke");
    if (self && !cJSON_IsBool(self) && !cJSON_IsNull(self))
        return fail(s, "etl.BadEvent", "the event's \"self_invoke\" must be true or false");
    ev->self_invoke = cJSON_IsTrue(self);
    ev->max_hops = LAMBDA_DEFAULT_MAX_HOPS;
    ev->margin_ms = ev->self_invoke ? LAMBDA_SELF_INVOKE_MARGIN_MS : LAMBDA_DEFAULT_MARGIN_MS;
    return event_string(s, "pipeline", true, &ev->pipeline) &&
           event_string(s, "state_key", false, &ev->state_key) &&
           event_int(s, "hop", 0, 1000000000, &ev->hop) &&
           event_int(s, "max_hops", 1, LAMBDA_HARD_MAX_HOPS, &ev->max_hops) &&
           event_int(s, "budget_margin_ms", 0, LAMBDA_MAX_MARGIN_MS, &ev->margin_ms);
}

static bool parse_event(runtime *rt, const invocation *inv, slice *s)
{
    if (inv->event.len > LAMBDA_MAX_EVENT_BYTES)
        return fail(s, "etl.BadEvent",
                    "the event is %zu bytes, over the limit of %d: pass the state by reference "
                    "({\"pipeline\": ..., \"state_key\": ...}), never the data",
                    inv->event.len, LAMBDA_MAX_EVENT_BYTES);
    const char *end = NULL;
    s->ev.json = cJSON_ParseWithLengthOpts(inv->event.data ? inv->event.data : "",
                                           inv->event.len, &end, false);
    if (s->ev.json == NULL) {
        size_t at = end && inv->event.data ? (size_t)(end - inv->event.data) : 0;
        return fail(s, "etl.BadEvent", "the event is not JSON (error at byte %zu of %zu)", at,
                    inv->event.len);
    }
    if (!cJSON_IsObject(s->ev.json))
        return fail(s, "etl.BadEvent",
                    "the event must be a JSON object such as {\"pipeline\": \"pipelines/x.yaml\"}");
    if (!event_fields(s))
        return false;
    const char *p = s->ev.pipeline;
    if (p[0] == '/' || rt->task_root == NULL) {
        s->ev.pipeline_path = xstrdup(p);
    } else {
        size_t n = strlen(rt->task_root) + strlen(p) + 2;
        s->ev.pipeline_path = malloc(n);
        if (s->ev.pipeline_path)
            snprintf(s->ev.pipeline_path, n, "%s/%s", rt->task_root, p);
    }
    return s->ev.pipeline_path ? true : fail(s, "etl.Runtime", "out of memory");
}

/* ---------------------------------------------------------------- the slice */

static void warn_if_not_durable(const pipeline *p)
{
    static bool warned;
    if (warned || strcmp(p->state_store.connector->name, "file") != 0)
        return;
    warned = true;
    log_msg(ETL_LOG_WARN, SOURCE,
            "pipeline '%s' keeps its state in the local file store: in Lambda it lives only as "
            "long as this sandbox, and another sandbox starts over. Use a durable state store "
            "(docs/lambda.md)",
            p->name);
}

static bool load_pipeline(runtime *rt, slice *s)
{
    /* A wrong path in an event is a deployment mistake, not an I/O error. */
    if (access(s->ev.pipeline_path, F_OK) != 0)
        return fail(s, "etl.Config",
                    "pipeline file %s not found (%s): the event's \"pipeline\" is relative to "
                    "LAMBDA_TASK_ROOT (%s), where deploy/package-lambda.sh puts pipelines/",
                    s->ev.pipeline, s->ev.pipeline_path,
                    rt->task_root ? rt->task_root : "unset: the working directory");
    etl_buf errors = {0};
    int status = EXIT_OK;
    s->p = pipeline_load(s->ev.pipeline_path, rt->options->plugin_path, &errors, &status);
    if (s->p == NULL) {
        const char *text = buf_cstr(&errors);
        size_t len = strlen(text);
        while (len > 0 && text[len - 1] == '\n')
            len--;
        fail(s, error_type_for(status), "%.*s", (int)len, text);
        buf_free(&errors);
        return false;
    }
    buf_free(&errors);
    pipeline *p = s->p;
    if (s->ev.state_key && strcmp(s->ev.state_key, p->state_key) != 0)
        return fail(s, "etl.State",
                    "the event's state_key '%s' is not the state key of pipeline %s ('%s'): "
                    "the event belongs to another pipeline",
                    s->ev.state_key, s->ev.pipeline, p->state_key);
    /* Every slice must be resumable: checkpoints with the defaults. */
    p->checkpointing = true;
    const etl_source_vtable *svt = p->source.connector->vtable;
    if (svt->checkpoint == NULL || svt->restore == NULL)
        return fail(s, "etl.Config",
                    "%s: source '%s' cannot be resumed (no checkpoint/restore), so it cannot "
                    "run in Lambda slices (not supported)",
                    s->ev.pipeline, p->source.connector->name);
    warn_if_not_durable(p);
    return true;
}

/* The run stops before the invocation's deadline minus the margin, or the
 * pipeline's own budget if that comes first. 0: no deadline at all. */
static int64_t slice_deadline(const slice *s, const invocation *inv)
{
    int64_t deadline = inv->deadline_ms > 0 ? inv->deadline_ms - s->ev.margin_ms : 0;
    if (s->p->budget_ms > 0) {
        int64_t own = wall_ms() + s->p->budget_ms;
        if (deadline == 0 || own < deadline)
            deadline = own;
    }
    return deadline;
}

/* The first error a failing run logs says what and where; it becomes the
 * invocation's errorMessage. */
static void keep_first_error(etl_log_level level, const char *source, const char *message,
                             void *arg)
{
    (void)level;
    etl_buf *first = arg;
    if (first->len == 0)
        buf_printf(first, "%s%s%s", source ? source : "", source ? ": " : "", message);
}

static bool run_slice(runtime *rt, const invocation *inv, slice *s)
{
    int64_t deadline = slice_deadline(s, inv);
    if (deadline > 0 && deadline - wall_ms() < MIN_SLICE_MS) {
        log_msg(ETL_LOG_WARN, SOURCE,
                "invocation %s: %lld ms left before the margin; not starting a slice",
                inv->request_id, (long long)(deadline - wall_ms()));
        s->skipped = true;
        s->status = "suspended";
        return true;
    }
    run_options options = {.quiet = rt->options->quiet, .deadline_unix_ms = deadline};
    etl_buf first_error = {0};
    log_set_capture(keep_first_error, ETL_LOG_ERROR, &first_error);
    catch_stop_signals(true);
    int status = run_pipeline(s->p, &options, &s->result);
    catch_stop_signals(false);
    log_set_capture(NULL, ETL_LOG_ERROR, NULL);
    if (status == EXIT_OK || status == EXIT_SUSPENDED) {
        buf_free(&first_error);
        s->status = s->result.done ? "done" : "suspended";
        return true;
    }
    bool r = fail(s, error_type_for(status), "pipeline %s failed: %s (exit status %d): %s",
                  s->ev.pipeline, describe_exit(status), status,
                  first_error.len ? buf_cstr(&first_error) : "see the function's log");
    buf_free(&first_error);
    return r;
}

/* ---------------------------------------------------------------- self-invoke */

typedef struct invoke_target {
    char url[1024];
    char region[64];
    sigv4_credentials credentials;
} invoke_target;

static bool append_encoded(etl_buf *out, const char *s)
{
    return sigv4_uri_encode(out, s, strlen(s), false) == ETL_OK;
}

static bool invoke_target_from_env(invoke_target *t, etl_buf *error)
{
    const char *name = getenv("AWS_LAMBDA_FUNCTION_NAME");
    const char *region = getenv("AWS_REGION");
    if (region == NULL || *region == '\0')
        region = getenv("AWS_DEFAULT_REGION");
    t->credentials.access_key = getenv("AWS_ACCESS_KEY_ID");
    t->credentials.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    t->credentials.session_token = getenv("AWS_SESSION_TOKEN");
    const char *missing = !name || !*name ? "AWS_LAMBDA_FUNCTION_NAME"
                          : !region || !*region ? "AWS_REGION"
                          : !t->credentials.access_key || !*t->credentials.access_key
                              ? "AWS_ACCESS_KEY_ID"
                          : !t->credentials.secret_key || !*t->credentials.secret_key
                              ? "AWS_SECRET_ACCESS_KEY"
                              : NULL;
    if (missing) {
        buf_printf(error, "cannot invoke the next hop: %s is not set", missing);
        return false;
    }
    snprintf(t->region, sizeof t->region, "%s", region);
    etl_buf url = {0};
    const char *endpoint = getenv("ETL_LAMBDA_ENDPOINT");
    if (endpoint && *endpoint) {
        size_t n = strlen(endpoint);
        while (n > 0 && endpoint[n - 1] == '/')
            n--;
        buf_append(&url, endpoint, n);
    } else {
        buf_printf(&url, "https://lambda.%s.amazonaws.com", region);
    }
    buf_append_str(&url, "/2015-03-31/functions/");
    bool ok = append_encoded(&url, name);
    buf_append_str(&url, "/invocations");
    /* A chain stays on the version it started on. */
    const char *version = getenv("AWS_LAMBDA_FUNCTION_VERSION");
    if (ok && version && *version && strcmp(version, "$LATEST") != 0) {
        buf_append_str(&url, "?Qualifier=");
        ok = append_encoded(&url, version);
    }
    ok = ok && url.len < sizeof t->url;
    if (ok)
        snprintf(t->url, sizeof t->url, "%s", buf_cstr(&url));
    else
        buf_printf(error, "cannot invoke the next hop: the function name or endpoint is too long");
    buf_free(&url);
    return ok;
}

static char *next_hop_event(const lambda_event *ev)
{
    cJSON *next = cJSON_Duplicate(ev->json, true);
    if (next == NULL)
        return NULL;
    cJSON *hop = cJSON_CreateNumber((double)(ev->hop + 1));
    if (cJSON_HasObjectItem(next, "hop"))
        cJSON_ReplaceItemInObjectCaseSensitive(next, "hop", hop);
    else
        cJSON_AddItemToObject(next, "hop", hop);
    char *text = cJSON_PrintUnformatted(next);
    cJSON_Delete(next);
    return text;
}

/* One Invoke call. Returns the HTTP status (0: no answer, error set). */
static long invoke_once(runtime *rt, const invoke_target *t, const char *body, long timeout_ms,
                        int64_t *retry_after_ms, etl_buf *error)
{
    const char *names[] = {"Content-Type", "X-Amz-Invocation-Type"};
    const char *values[] = {"application/json", "Event"};
    http_sigv4 sign = {.region = t->region, .service = "lambda", .credentials = t->credentials,
                       .flags = SIGV4_FLAGS_DEFAULT};
    http_request req = {.method = "POST", .url = t->url, .header_names = names,
                        .header_values = values, .header_count = 2, .body = body,
                        .body_len = strlen(body), .timeout_ms = timeout_ms,
                        .connect_timeout_ms = timeout_ms, .max_response_bytes = 64 * 1024,
                        .sigv4 = &sign};
    http_response resp;
    buf_reset(error);
    long status = 0;
    if (http_send(rt->http, &req, &resp, NULL) != ETL_OK) {
        buf_printf(error, "%s", ctx_error_message(NULL));
    } else {
        status = resp.status;
        *retry_after_ms = resp.retry_after_ms;
        if (status != 202)
            buf_printf(error, "the Invoke API answered %ld: %.200s", status,
                       resp.body.data ? resp.body.data : "");
    }
    http_response_free(&resp);
    return status;
}

/* Invokes this function again, asynchronously, with hop + 1. Retries 429,
 * 5xx and lost connections with backoff, but never past `deadline_ms`. */
static bool invoke_next_hop(runtime *rt, const slice *s, int64_t deadline_ms, etl_buf *error)
{
    invoke_target target;
    if (!invoke_target_from_env(&target, error))
        return false;
    char *body = next_hop_event(&s->ev);
    if (body == NULL) {
        buf_printf(error, "cannot invoke the next hop: out of memory");
        return false;
    }
    bool ok = false;
    int64_t backoff_ms = 100;
    for (int attempt = 1; attempt <= INVOKE_ATTEMPTS; attempt++) {
        int64_t left = deadline_ms > 0 ? deadline_ms - wall_ms() - 100 : INVOKE_TIMEOUT_MS;
        if (left < 100) {
            buf_printf(error, "%sno time left for the Invoke call before the deadline",
                       error->len ? "; then " : "");
            break;
        }
        int64_t retry_after = -1;
        long status = invoke_once(rt, &target, body, left < INVOKE_TIMEOUT_MS ? (long)left
                                                                             : INVOKE_TIMEOUT_MS,
                                  &retry_after, error);
        if (status == 202) {
            ok = true;
            break;
        }
        if (status != 0 && status != 429 && status < 500)
            break;
        /* Jitter spreads the retries of many chains throttled at once. */
        int64_t wait = retry_after > backoff_ms ? retry_after
                                                : backoff_ms / 2 + rand() % (backoff_ms / 2 + 1);
        log_msg(ETL_LOG_WARN, SOURCE, "self-invoke attempt %d of %d: %s", attempt,
                INVOKE_ATTEMPTS, buf_cstr(error));
        if (attempt < INVOKE_ATTEMPTS && (deadline_ms <= 0 || wall_ms() + wait + 200 < deadline_ms))
            sleep_ms(wait);
        backoff_ms *= 2;
    }
    cJSON_free(body);
    return ok;
}

/* A suspended slice in self-invoke mode hands over to the next hop, unless
 * the hop cap is reached. */
static void continue_chain(runtime *rt, const invocation *inv, slice *s)
{
    if (!s->ev.self_invoke || strcmp(s->status, "suspended") != 0)
        return;
    if (s->ev.hop + 1 >= s->ev.max_hops) {
        s->status = "hop_limit";
        log_msg(ETL_LOG_WARN, SOURCE,
                "pipeline %s: hop %lld is the last allowed (max_hops %lld); the chain stops here "
                "and the state keeps the position: invoke again with hop 0 to continue",
                s->ev.pipeline, (long long)s->ev.hop, (long long)s->ev.max_hops);
        return;
    }
    if (!invoke_next_hop(rt, s, inv->deadline_ms, &s->invoke_error))
        log_msg(ETL_LOG_ERROR, SOURCE, "pipeline %s: the chain stops at hop %lld: %s",
                s->ev.pipeline, (long long)s->ev.hop, buf_cstr(&s->invoke_error));
}

/* ---------------------------------------------------------------- answering */

static char *response_body(const slice *s)
{
    const run_result *r = &s->result;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "done", r->done);
    cJSON_AddStringToObject(o, "status", s->status);
    cJSON_AddStringToObject(o, "pipeline", s->ev.pipeline);
    cJSON_AddStringToObject(o, "pipeline_name", s->p->name);
    cJSON_AddStringToObject(o, "state_key", s->p->state_key);
    cJSON_AddNumberToObject(o, "commit_sequence", (double)r->commit_sequence);
    cJSON_AddNumberToObject(o, "records_read", (double)r->records_read);
    cJSON_AddNumberToObject(o, "records_written", (double)r->records_written);
    cJSON_AddNumberToObject(o, "records_rejected", (double)r->records_rejected);
    cJSON_AddNumberToObject(o, "slice_records", (double)r->slice_records);
    cJSON_AddNumberToObject(o, "hop", (double)s->ev.hop);
    cJSON_AddNumberToObject(o, "max_hops", (double)s->ev.max_hops);
    cJSON_AddBoolToObject(o, "self_invoke", s->ev.self_invoke);
    if (s->skipped)
        cJSON_AddBoolToObject(o, "skipped", true);
    if (s->invoke_error.len)
        cJSON_AddStringToObject(o, "self_invoke_error", s->invoke_error.data);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static long post_response(runtime *rt, const invocation *inv, const slice *s)
{
    char path[256];
    snprintf(path, sizeof path, "/invocation/%s/response", inv->request_id);
    char *body = response_body(s);
    long status = body ? post_json(rt, path, body, NULL) : 0;
    if (status == 202)
        log_msg(ETL_LOG_INFO, SOURCE, "invocation %s: %s, %lld records in this slice, hop %lld%s",
                inv->request_id, s->status, (long long)s->result.slice_records,
                (long long)s->ev.hop,
                inv->deadline_ms > 0 ? "" : " (no deadline)");
    cJSON_free(body);
    return status;
}

static void slice_free(slice *s)
{
    cJSON_Delete(s->ev.json);
    free(s->ev.pipeline_path);
    if (s->p)
        pipeline_free(s->p);
    buf_free(&s->invoke_error);
    buf_free(&s->error_message);
}

/* Serves one invocation. Returns the Runtime API's status for the answer. */
static long answer(runtime *rt, const invocation *inv)
{
    slice s;
    memset(&s, 0, sizeof s);
    bool ok = parse_event(rt, inv, &s) && load_pipeline(rt, &s);
    if (ok && s.ev.self_invoke && s.ev.hop >= s.ev.max_hops) {
        s.status = "hop_limit";
        log_msg(ETL_LOG_WARN, SOURCE, "pipeline %s: hop %lld is past max_hops %lld; not running",
                s.ev.pipeline, (long long)s.ev.hop, (long long)s.ev.max_hops);
    } else if (ok) {
        ok = run_slice(rt, inv, &s);
        if (ok)
            continue_chain(rt, inv, &s);
    }
    long status;
    if (ok) {
        status = post_response(rt, inv, &s);
    } else {
        char path[256];
        snprintf(path, sizeof path, "/invocation/%s/error", inv->request_id);
        status = post_error(rt, path, s.error_type, buf_cstr(&s.error_message));
    }
    slice_free(&s);
    return status;
}

static int serve(runtime *rt)
{
    for (;;) {
        invocation inv;
        memset(&inv, 0, sizeof inv);
        int status = next_invocation(rt, &inv);
        if (status != EXIT_OK)
            return status;
        long answered = answer(rt, &inv);
        buf_free(&inv.event);
        if (run_interrupted)
            return EXIT_INTERRUPTED;
        /* No answer, or a 500: the Runtime API wants the runtime gone. */
        if (answered == 0 || answered >= 500)
            return EXIT_FAILURE_RUNTIME;
    }
}

/* ---------------------------------------------------------------- init */

static bool valid_host_port(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr(".-:[]", *s)))
            return false;
    }
    return true;
}

/* Problems found before the first /next are reported to init/error. */
static bool init_checks(runtime *rt)
{
    struct stat st;
    if (rt->task_root && (stat(rt->task_root, &st) != 0 || !S_ISDIR(st.st_mode))) {
        char message[600];
        snprintf(message, sizeof message,
                 "LAMBDA_TASK_ROOT '%.500s' is not a directory: pipeline files are found there",
                 rt->task_root);
        post_error(rt, "/init/error", "etl.Runtime", message);
        return false;
    }
    return true;
}

int lambda_main(const lambda_options *options)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (api == NULL || *api == '\0' || !valid_host_port(api)) {
        log_msg(ETL_LOG_ERROR, "etl",
                "etl lambda: AWS_LAMBDA_RUNTIME_API is %s: 'etl lambda' is the bootstrap of a "
                "Lambda function and runs inside Lambda or a Runtime API emulator, which set it "
                "to host:port (docs/lambda.md)",
                api == NULL || *api == '\0' ? "not set" : "not a host:port");
        return EXIT_USAGE;
    }
    runtime rt = {.options = options};
    snprintf(rt.base_url, sizeof rt.base_url, "http://%s%s", api, RUNTIME_API_PATH);
    const char *root = getenv("LAMBDA_TASK_ROOT");
    rt.task_root = root && *root ? root : NULL;
    rt.http = http_client_new();
    if (rt.http == NULL) {
        log_msg(ETL_LOG_ERROR, "etl", "etl lambda: cannot start the HTTP client (libcurl)");
        return EXIT_FAILURE_RUNTIME;
    }
    srand((unsigned)wall_ms() ^ (unsigned)getpid());
    catch_stop_signals(false);
    int status = init_checks(&rt) ? serve(&rt) : EXIT_FAILURE_RUNTIME;
    http_client_free(rt.http);
    return status;
}
