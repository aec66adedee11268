/* A deliberately broken plugin: its source has no read() callback. The host
 * must refuse it at load, naming the connector and the callback, instead of
 * crashing mid-run on a NULL call. */
#include <etl/plugin.h>

static const etl_host_api *api;   /* set by the entry point */

static etl_status noop_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    *state = NULL;
    if (api == NULL)
        return ETL_ERR_PERMANENT;
    return ETL_OK;
}

static void noop_close(void *state)
{
}

static const etl_source_vtable source_vtable = {
    .struct_size = sizeof(etl_source_vtable),
    .open = noop_open,
    .read = NULL,
    .close = noop_close,
};

static const etl_option_spec no_options[] = {{0}};

static const etl_connector source = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "incomplete",
    .summary = "never loaded: a source without read",
    .options = no_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &source_vtable,
};

static const etl_connector *const connectors[] = {&source, NULL};

static const etl_plugin_descriptor descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 0,
    .name = "missing_callback",
    .version = "0.0.1",
    .summary = "test plugin: a source without read",
    .connectors = connectors,
};

ETL_PLUGIN_DEFINE(missing_callback, descriptor, api)
