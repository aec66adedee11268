// DuckDB peer for bench/ndjson_select_rename.sh: the same select + rename as
// the etl pipeline, as one COPY statement.
//
//   node bench/duckdb_ndjson.mjs INPUT.ndjson OUTPUT.ndjson [THREADS]
//
// THREADS is a number or "default" (DuckDB's own choice: one per core).
// Prints one line: {"threads":N,"query_ms":M,"duckdb":"vX"}; the caller times
// the whole process too, since etl's times include its start-up as well.
// Needs `npm ci` at the repo root (package.json pins @duckdb/node-api).
import { DuckDBInstance } from '@duckdb/node-api';

function sqlString(text) {
    return "'" + text.replaceAll("'", "''") + "'";
}

async function main() {
    const [input, output, threads = 'default'] = process.argv.slice(2);
    if (!input || !output) {
        console.error('usage: node duckdb_ndjson.mjs INPUT.ndjson OUTPUT.ndjson [THREADS|default]');
        process.exit(2);
    }
    const options = threads === 'default' ? {} : { threads: String(threads) };
    const instance = await DuckDBInstance.create(':memory:', options);
    const connection = await instance.connect();
    const started = process.hrtime.bigint();
    await connection.run(
        'COPY (SELECT id, sku, name, brand.name AS brand_name, price, updated_at ' +
        `FROM read_json_auto(${sqlString(input)})) ` +
        `TO ${sqlString(output)} (FORMAT json)`);
    const queryMs = Number(process.hrtime.bigint() - started) / 1e6;
    const info = await connection.runAndReadAll("SELECT version(), current_setting('threads')");
    const [version, usedThreads] = info.getRows()[0];
    console.log(JSON.stringify({ threads: Number(usedThreads), query_ms: queryMs, duckdb: version }));
}

main().catch((error) => {
    console.error(`duckdb_ndjson: ${error.message}`);
    process.exit(1);
});
