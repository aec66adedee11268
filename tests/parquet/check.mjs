// DuckDB checks for tests/integration/parquet.sh (@duckdb/node-api from the
// repo's node_modules; `npm ci` at the repo root installs it).
//
//   node check.mjs compare PARQUET_GLOB NDJSON
//       Every value of the Parquet files equals the NDJSON (etl's own output
//       of the same pipeline), read by DuckDB with the Parquet file's column
//       types; rows in the same order. Prints "ok rows=N" or the first
//       differences, and exits 1 on a difference.
//   node check.mjs query SQL
//       Prints each result row as one JSON line (BIGINT as text: exact).
import { DuckDBInstance } from '@duckdb/node-api';

const sqlString = (text) => "'" + text.replaceAll("'", "''") + "'";

async function connect() {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    return instance.connect();
}

async function rows(con, sql) {
    const reader = await con.runAndReadAll(sql);
    return reader.getRowObjectsJson();
}

async function compare(con, parquet, ndjson) {
    const p = `read_parquet(${sqlString(parquet)})`;
    const described = await rows(con, `DESCRIBE SELECT * FROM ${p}`);
    const columns = described.map((c) => `${sqlString(c.column_name)}: ${sqlString(c.column_type)}`);
    const j = `read_json(${sqlString(ndjson)}, format='newline_delimited', ` +
        `columns={${columns.join(', ')}})`;
    // Row numbers from each file's own order make the comparison order-exact.
    const pr = `(SELECT row_number() OVER () AS row_no, * FROM ${p})`;
    const jr = `(SELECT row_number() OVER () AS row_no, * FROM ${j})`;
    const [counts] = await rows(con, `SELECT (SELECT count(*) FROM ${p}) AS parquet, ` +
        `(SELECT count(*) FROM ${j}) AS ndjson`);
    const missing = await rows(con, `SELECT * FROM (SELECT * FROM ${jr} EXCEPT ALL SELECT * FROM ${pr}) ` +
        `ORDER BY row_no LIMIT 3`);
    const extra = await rows(con, `SELECT * FROM (SELECT * FROM ${pr} EXCEPT ALL SELECT * FROM ${jr}) ` +
        `ORDER BY row_no LIMIT 3`);
    if (counts.parquet !== counts.ndjson || missing.length || extra.length) {
        console.log(`DIFFERENT rows parquet=${counts.parquet} ndjson=${counts.ndjson}`);
        for (const r of missing) console.log('  ndjson only: ' + JSON.stringify(r));
        for (const r of extra) console.log('  parquet only: ' + JSON.stringify(r));
        return false;
    }
    console.log(`ok rows=${counts.parquet} columns=${described.length}`);
    return true;
}

async function main() {
    const [command, ...args] = process.argv.slice(2);
    const con = await connect();
    if (command === 'compare') {
        process.exit((await compare(con, args[0], args[1])) ? 0 : 1);
    } else if (command === 'query') {
        for (const r of await rows(con, args[0])) console.log(JSON.stringify(r));
    } else {
        console.error('usage: check.mjs compare PARQUET NDJSON | query SQL');
        process.exit(2);
    }
}

main().catch((error) => {
    console.log(`ERROR ${error.message}`);
    process.exit(1);
});
