/* etl plugins: what was found where, and each connector's options. */
#include <stdio.h>

#include "buf.h"
#include "cli.h"
#include "exit_status.h"
#include "plugin_loader.h"
#include "state_store_file.h"

static const char *type_name(etl_option_type type)
{
    switch (type) {
    case ETL_OPT_STRING: return "string";
    case ETL_OPT_INT: return "integer";
    case ETL_OPT_DOUBLE: return "number";
    case ETL_OPT_BOOL: return "boolean";
    case ETL_OPT_DURATION: return "duration";
    case ETL_OPT_SIZE: return "size";
    case ETL_OPT_ENUM: return "enum";
    case ETL_OPT_LIST: return "list";
    case ETL_OPT_MAP: return "mapping";
    case ETL_OPT_ANY: return "value or mapping";
    }
    return "?";
}

static void list_connectors(const etl_plugin_descriptor *d)
{
    for (size_t i = 0; d->connectors[i]; i++)
        printf("    %-10s %-12s %s\n", connector_kind_name(d->connectors[i]->kind),
               d->connectors[i]->name,
               d->connectors[i]->summary ? d->connectors[i]->summary : "");
}

static void describe_connector(const etl_connector *c)
{
    printf("\n%s %s: %s\n", connector_kind_name(c->kind), c->name, c->summary ? c->summary : "");
    const char *base = (const char *)c->options;
    size_t stride = c->option_spec_size ? c->option_spec_size : sizeof(etl_option_spec);
    bool any = false;
    for (const char *at = base; at; at += stride) {
        etl_option_spec spec;
        memset(&spec, 0, sizeof spec);
        memcpy(&spec, at, stride < sizeof spec ? stride : sizeof spec);
        if (spec.key == NULL)
            break;
        any = true;
        char type[96];
        if (spec.type == ETL_OPT_ENUM && spec.choices)
            snprintf(type, sizeof type, "%s", spec.choices);
        else
            snprintf(type, sizeof type, "%s", type_name(spec.type));
        const char *dflt = (spec.flags & ETL_OPT_REQUIRED) ? "required"
                           : spec.default_value                ? spec.default_value
                                                               : "-";
        printf("  %-20s %-22s %-12s %s\n", spec.key, type, dflt, spec.doc ? spec.doc : "");
    }
    if (!any)
        printf("  (no options)\n");
}

static int describe(const plugin_registry *reg, const char *name)
{
    int found = 0;
    for (size_t i = 0; i < registry_count(reg); i++) {
        const etl_plugin_descriptor *d = registry_at(reg, i)->desc;
        bool whole_plugin = strcmp(d->name, name) == 0;
        if (whole_plugin)
            printf("plugin %s %s (%s)\n", d->name, d->version, registry_at(reg, i)->path);
        for (size_t j = 0; d->connectors[j]; j++) {
            const etl_connector *c = registry_find(reg, d->connectors[j]->kind,
                                                   d->connectors[j]->name, NULL);
            if (c && (whole_plugin || strcmp(c->name, name) == 0)) {
                if (!whole_plugin)
                    printf("from plugin %s %s (%s)\n", d->name, d->version,
                           registry_at(reg, i)->path);
                describe_connector(c);
                found++;
            }
        }
    }
    if (!found) {
        fprintf(stderr, "etl: no plugin or connector named '%s' (run 'etl plugins' to list them)\n",
                name);
        return EXIT_PLUGIN;
    }
    return EXIT_OK;
}

int cli_plugins(const char *plugin_path, const char *describe_name)
{
    char **dirs = registry_search_path(plugin_path);
    size_t n = 0;
    while (dirs[n])
        n++;
    plugin_registry *reg = registry_new();
    etl_buf report = {0};
    registry_load_dirs(reg, (const char *const *)dirs, n, &report);
    char builtin_error[256];
    registry_add_descriptor(reg, "(built into etl)", builtin_plugin_descriptor(), builtin_error,
                            sizeof builtin_error);
    int status = EXIT_OK;
    if (describe_name) {
        status = describe(reg, describe_name);
    } else {
        printf("Plugin directories searched, in order:\n");
        for (size_t i = 0; i < n; i++)
            printf("  %s\n", dirs[i]);
        printf("\n");
        for (size_t i = 0; i < registry_count(reg); i++) {
            const loaded_plugin *lp = registry_at(reg, i);
            printf("%s %s  (plugin ABI %u.%u, needs host ABI >= %u.%u)\n  %s\n", lp->desc->name,
                   lp->desc->version, lp->desc->abi_major, lp->desc->abi_minor,
                   lp->desc->abi_major, lp->desc->min_host_minor, lp->path);
            list_connectors(lp->desc);
        }
        if (registry_count(reg) == 0)
            printf("No plugins found.\n");
        if (report.len) {
            printf("\nNot loaded:\n%s", buf_cstr(&report));
            if (report.data[report.len - 1] != '\n')
                printf("\n");
        }
    }
    buf_free(&report);
    registry_free(reg);
    registry_free_search_path(dirs);
    return status;
}
