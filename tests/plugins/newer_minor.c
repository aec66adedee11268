/* A deliberately broken plugin: it needs host ABI minor ETL_ABI_MINOR + 5,
 * as a plugin using services of a newer etl would. The host must refuse it
 * at load with a message that says to upgrade etl. */
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
    .name = "newer_minor_source",
    .summary = "never loaded: needs a newer host",
    .options = no_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &source_vtable,
};

static const etl_connector *const connectors[] = {&source, NULL};

static const etl_plugin_descriptor descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR + 5,
    .min_host_minor = ETL_ABI_MINOR + 5,
    .name = "newer_minor",
    .version = "0.0.1",
    .summary = "test plugin: needs host ABI minor + 5",
    .connectors = connectors,
};

ETL_PLUGIN_DEFINE(newer_minor, descriptor, api)
