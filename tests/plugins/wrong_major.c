/* A deliberately broken plugin: it claims plugin ABI 2.0, as a plugin built
 * against a future etl would. The host must refuse it at load with a message
 * that says to rebuild, and never call into it. */
#include <etl/plugin.h>

static const etl_host_api *api;   /* set by the entry point */

static etl_status noop_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    *state = NULL;
    if (api == NULL)
        return ETL_ERR_PERMANENT;
    return ETL_OK;
}

static etl_status noop_read(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes)
{
    return ETL_END;
}

static void noop_close(void *state)
{
}

static const etl_source_vtable source_vtable = {
    .struct_size = sizeof(etl_source_vtable),
    .open = noop_open,
    .read = noop_read,
    .close = noop_close,
};

static const etl_option_spec no_options[] = {{0}};

static const etl_connector source = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "wrong_major_source",
    .summary = "never loaded: built for ABI 2.0",
    .options = no_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &source_vtable,
};

static const etl_connector *const connectors[] = {&source, NULL};

static const etl_plugin_descriptor descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR + 1,
    .abi_minor = 0,
    .min_host_minor = 0,
    .name = "wrong_major",
    .version = "0.0.1",
    .summary = "test plugin: wrong ABI major",
    .connectors = connectors,
};

ETL_PLUGIN_DEFINE(wrong_major, descriptor, api)
