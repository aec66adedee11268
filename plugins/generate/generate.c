/* generate.so: a source of seeded, synthetic e-commerce product documents.
 * Record i depends only on (seed, i), so a cursor is just the next index and
 * any range can be regenerated exactly: a reproducible input for tests,
 * benchmarks and trying pipelines without data. */
#include <etl/plugin.h>
#include <inttypes.h>
#include <stdio.h>

static const etl_host_api *host;

typedef struct columns {
    int32_t id, sku, name, brand, brand_name, brand_country, price, currency, tags, tag, variants,
        variant, variant_sku, variant_color, variant_stock, rating, created_at, updated_at,
        discount, active, description;
} columns;

typedef struct generator {
    etl_ctx *ctx;
    int64_t count;
    uint64_t seed;
    int64_t next;                /* index of the next record to emit */
    int64_t description_bytes;
    columns col;
    etl_builder *declared_for;   /* the builder whose columns are in `col` */
} generator;

/* splitmix64: a fast, well-mixed hash of (seed, index, field). */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t draw(const generator *g, int64_t index, uint64_t field)
{
    return mix(g->seed * 0x100000001b3ULL ^ mix((uint64_t)index * 131 + field));
}

static const char *const brands[] = {"Acme", "Nordwind", "Café Lumière", "Zenko", "Brightline",
                                     "Ōtsuka", "Vireo", "Müller & Söhne"};
static const char *const countries[] = {"FR", "DE", "JP", "US", "SE", "IT", "BR", "IN"};
static const char *const nouns[] = {"kettle", "lamp", "backpack", "headphones", "mug", "jacket",
                                    "sneakers", "notebook", "chair", "blender"};
static const char *const adjectives[] = {"classic", "compact", "ultra", "eco", "smart", "vintage",
                                         "pro", "mini", "\"deluxe\"", "naïve"};
static const char *const colors[] = {"black", "white", "red", "blue", "green", "sand"};
static const char *const tags[] = {"sale", "new", "gift", "bestseller", "limited", "outdoor",
                                   "home", "kids"};
#define PICK(list, r) (list[(r) % (sizeof(list) / sizeof((list)[0]))])

static void declare_columns(generator *g, etl_builder *b)
{
    columns *c = &g->col;
    c->id = host->builder_declare(b, ETL_ROOT, "id", ETL_TYPE_INT64, 0, 0);
    c->sku = host->builder_declare(b, ETL_ROOT, "sku", ETL_TYPE_STRING, 0, 0);
    c->name = host->builder_declare(b, ETL_ROOT, "name", ETL_TYPE_STRING, 0, 0);
    c->brand = host->builder_declare(b, ETL_ROOT, "brand", ETL_TYPE_STRUCT, 0, 0);
    c->brand_name = host->builder_declare(b, c->brand, "name", ETL_TYPE_STRING, 0, 0);
    c->brand_country = host->builder_declare(b, c->brand, "country", ETL_TYPE_STRING, 0, 0);
    c->price = host->builder_declare(b, ETL_ROOT, "price", ETL_TYPE_DOUBLE, 0, 0);
    c->currency = host->builder_declare(b, ETL_ROOT, "currency", ETL_TYPE_STRING, 0, 0);
    c->tags = host->builder_declare(b, ETL_ROOT, "tags", ETL_TYPE_LIST, 0, 0);
    c->tag = host->builder_list_item(b, c->tags);
    c->variants = host->builder_declare(b, ETL_ROOT, "variants", ETL_TYPE_LIST, 0, 0);
    c->variant = host->builder_list_item(b, c->variants);
    c->variant_sku = host->builder_field(b, c->variant, "sku", 3);
    c->variant_color = host->builder_field(b, c->variant, "color", 5);
    c->variant_stock = host->builder_field(b, c->variant, "stock", 5);
    c->rating = host->builder_declare(b, ETL_ROOT, "rating", ETL_TYPE_DOUBLE, 0, 0);
    c->created_at = host->builder_declare(b, ETL_ROOT, "created_at", ETL_TYPE_TIMESTAMP_US, 0, 0);
    c->updated_at = host->builder_declare(b, ETL_ROOT, "updated_at", ETL_TYPE_TIMESTAMP_US, 0, 0);
    c->discount = host->builder_declare(b, ETL_ROOT, "discount", ETL_TYPE_DOUBLE, 0, 0);
    c->active = host->builder_declare(b, ETL_ROOT, "active", ETL_TYPE_BOOL, 0, 0);
    c->description = host->builder_declare(b, ETL_ROOT, "description", ETL_TYPE_STRING, 0, 0);
    g->declared_for = b;
}

static etl_status append_text(etl_builder *b, int32_t col, const char *text)
{
    return host->append_string(b, col, text, strlen(text));
}

static etl_status emit_variants(const generator *g, etl_builder *b, int64_t i, const char *sku)
{
    const columns *c = &g->col;
    int n = (int)(draw(g, i, 20) % 4); /* 0..3: empty lists occur */
    etl_status st = host->begin_list(b, c->variants);
    for (int v = 0; v < n && st == ETL_OK; v++) {
        char vsku[48];
        snprintf(vsku, sizeof vsku, "%s-%d", sku, v);
        st = host->begin_struct(b, c->variant);
        if (st == ETL_OK) st = append_text(b, c->variant_sku, vsku);
        if (st == ETL_OK) st = append_text(b, c->variant_color, PICK(colors, draw(g, i, 21 + (uint64_t)v)));
        if (st == ETL_OK) st = host->append_int64(b, c->variant_stock, (int64_t)(draw(g, i, 31 + (uint64_t)v) % 500));
        if (st == ETL_OK) st = host->end_struct(b, c->variant);
    }
    return st == ETL_OK ? host->end_list(b, c->variants) : st;
}

static etl_status emit_record(const generator *g, etl_builder *b, int64_t i)
{
    const columns *c = &g->col;
    char sku[32], name[96], description[512];
    uint64_t r = draw(g, i, 1);
    /* Ids are spread over the whole int64 range now and then, so exactness
     * above 2^53 is exercised by every pipeline that uses this source. */
    int64_t id = (r % 50 == 0) ? (int64_t)(draw(g, i, 2) >> 1) : 1000000 + i;
    snprintf(sku, sizeof sku, "SKU-%08llx", (unsigned long long)(draw(g, i, 3) & 0xffffffffULL));
    snprintf(name, sizeof name, "%s %s %" PRId64, PICK(adjectives, draw(g, i, 4)),
             PICK(nouns, draw(g, i, 5)), i);
    int64_t created = 1577836800LL * 1000000 + (int64_t)(draw(g, i, 6) % (157680000ULL * 1000000));
    int64_t updated = created + (int64_t)(draw(g, i, 7) % (86400ULL * 400 * 1000000));
    etl_status st = host->builder_begin_record(b);
    if (st == ETL_OK) st = host->append_int64(b, c->id, id);
    if (st == ETL_OK) st = append_text(b, c->sku, sku);
    if (st == ETL_OK) st = append_text(b, c->name, name);
    if (st == ETL_OK) st = host->begin_struct(b, c->brand);
    if (st == ETL_OK) st = append_text(b, c->brand_name, PICK(brands, draw(g, i, 8)));
    if (st == ETL_OK) st = append_text(b, c->brand_country, PICK(countries, draw(g, i, 9)));
    if (st == ETL_OK) st = host->end_struct(b, c->brand);
    if (st == ETL_OK) st = host->append_double(b, c->price, (double)(draw(g, i, 10) % 100000) / 100.0 + 0.99);
    if (st == ETL_OK) st = append_text(b, c->currency, "EUR");
    if (st == ETL_OK) st = host->begin_list(b, c->tags);
    for (uint64_t t = 0; st == ETL_OK && t < draw(g, i, 11) % 4; t++)
        st = append_text(b, c->tag, PICK(tags, draw(g, i, 12 + t)));
    if (st == ETL_OK) st = host->end_list(b, c->tags);
    if (st == ETL_OK) st = emit_variants(g, b, i, sku);
    if (st == ETL_OK) st = host->append_double(b, c->rating, (double)(draw(g, i, 13) % 41) / 10.0 + 1.0);
    if (st == ETL_OK) st = host->append_timestamp_us(b, c->created_at, created);
    if (st == ETL_OK) st = host->append_timestamp_us(b, c->updated_at, updated);
    /* A sparse field: present in one record out of ten. */
    if (st == ETL_OK && draw(g, i, 14) % 10 == 0)
        st = host->append_double(b, c->discount, (double)(draw(g, i, 15) % 50) / 100.0);
    if (st == ETL_OK) st = host->append_bool(b, c->active, draw(g, i, 16) % 5 != 0);
    if (st == ETL_OK && g->description_bytes > 0) {
        int64_t len = g->description_bytes;
        if (len > (int64_t)sizeof description - 1)
            len = (int64_t)sizeof description - 1;
        int64_t at = 0;
        for (uint64_t w = 0; at < len; w++) {
            const char *word = PICK(nouns, draw(g, i, 40 + w));
            int written = snprintf(description + at, (size_t)(len - at + 1), "%s ", word);
            at += written;
        }
        description[len] = '\0';
        st = append_text(b, c->description, description);
    }
    if (st == ETL_OK)
        return host->builder_end_record(b);
    host->builder_cancel_record(b);
    return st;
}

static etl_status generate_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    generator *g = host->alloc(sizeof *g);
    if (g == NULL)
        return host->set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    int64_t seed = 42;
    host->opt_int(opts, "count", &g->count);
    host->opt_int(opts, "seed", &seed);
    host->opt_size(opts, "description_bytes", &g->description_bytes);
    g->seed = (uint64_t)seed;
    if (g->count < 0) {
        host->free(g);
        return host->set_error(ctx, ETL_ERR_CONFIG, 0, "%s: count must be 0 or more",
                               host->opt_where(opts, "count"));
    }
    host->progress_total(ctx, g->count);
    *state = g;
    return ETL_OK;
}

static etl_status generate_read(void *state, etl_builder *out, int64_t max_records,
                                int64_t max_bytes)
{
    generator *g = state;
    if (g->declared_for != out)
        declare_columns(g, out);
    for (int64_t n = 0; n < max_records && g->next < g->count; n++) {
        if (max_bytes > 0 && host->builder_bytes(out) >= max_bytes)
            break;
        etl_status st = emit_record(g, out, g->next);
        if (st != ETL_OK)
            return st;
        g->next++;
    }
    return g->next >= g->count ? ETL_END : ETL_OK;
}

static etl_status generate_checkpoint(void *state, etl_buf *cursor)
{
    generator *g = state;
    return host->buf_printf(cursor, "{\"next\":%" PRId64 "}", g->next);
}

static etl_status generate_restore(void *state, const char *cursor, size_t len)
{
    generator *g = state;
    long long next = -1;
    char text[64];
    if (len >= sizeof text || (memcpy(text, cursor, len), text[len] = '\0',
                               sscanf(text, " {\"next\" : %lld }", &next) != 1) ||
        next < 0 || next > g->count)
        return host->set_error(g->ctx, ETL_ERR_CONFIG, 0,
                               "generate: cursor '%.*s' is not {\"next\": N} with 0 <= N <= count",
                               (int)(len > 60 ? 60 : len), cursor);
    g->next = next;
    return ETL_OK;
}

static void generate_close(void *state) { host->free(state); }

static const etl_option_spec generate_options[] = {
    {"count", ETL_OPT_INT, "1000", "how many product documents to generate", 0, NULL},
    {"seed", ETL_OPT_INT, "42", "the same seed gives the same documents", 0, NULL},
    {"description_bytes", ETL_OPT_SIZE, "0",
     "add a text field of about this size (up to 511 bytes) to make documents larger", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

static const etl_source_vtable generate_source = {
    .struct_size = sizeof(etl_source_vtable),
    .open = generate_open,
    .read = generate_read,
    .checkpoint = generate_checkpoint,
    .restore = generate_restore,
    .close = generate_close,
};

static const etl_connector generate_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "generate",
    .summary = "seeded synthetic e-commerce product documents (nested, sparse, int64-wide ids)",
    .options = generate_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &generate_source,
};

static const etl_connector *const generate_connectors[] = {&generate_connector, NULL};

static const etl_plugin_descriptor generate_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 0,
    .name = "generate",
    .version = PACKAGE_VERSION,
    .summary = "synthetic product documents for tests, benchmarks and trying pipelines",
    .connectors = generate_connectors,
};

ETL_PLUGIN_DEFINE(generate, generate_descriptor, host)
