// DuckDB peer for bench/parquet_vs_duckdb.sh: NDJSON to Parquet (zstd) with
// one thread, the way a user would write it.
//
//   node bench/parquet/duckdb_copy.mjs INPUT.ndjson OUTPUT.parquet [THREADS]
//
// Prints {"threads":N,"query_ms":M,"duckdb":"vX"}. Needs `npm ci` at the
// repo root (package.json pins @duckdb/node-api).
import { DuckDBInstance } from '@duckdb/node-api';

const sqlString = (text) => "'" + text.replaceAll("'", "''") + "'";

async function main() {
    const [input, output, threads = '1'] = process.argv.slice(2);
    if (!input || !output) {
        console.error('usage: node duckdb_copy.mjs INPUT.ndjson OUTPUT.parquet [THREADS]');
        process.exit(2);
    }
    const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) });
    const connection = await instance.connect();
    const started = process.hrtime.bigint();
    await connection.run(
        `COPY (SELECT * FROM read_json_auto(${sqlString(input)})) ` +
        `TO ${sqlString(output)} (FORMAT parquet, COMPRESSION zstd)`);
    const queryMs = Number(process.hrtime.bigint() - started) / 1e6;
    const info = await connection.runAndReadAll("SELECT version(), current_setting('threads')");
    const [version, usedThreads] = info.getRows()[0];
    console.log(JSON.stringify({ threads: Number(usedThreads), query_ms: queryMs, duckdb: version }));
}

main().catch((error) => {
    console.error(`duckdb_copy: ${error.message}`);
    process.exit(1);
});
