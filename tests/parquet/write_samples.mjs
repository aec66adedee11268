// Parquet files written by DuckDB, for tests/integration/parquet_read.sh
// (etl's parquet reader against another writer), and a value comparison
// of two Parquet files.
//
//   node write_samples.mjs write DIR
//       Writes DIR/<name>.parquet for every sample below.
//   node write_samples.mjs same PARQUET_A PARQUET_B
//       DuckDB reads both; every row of B (cast to A's column types) equals
//       the row of A at the same position. Prints "ok rows=N" or the first
//       differences and exits 1.
import { DuckDBInstance } from '@duckdb/node-api';

const sqlString = (text) => "'" + text.replaceAll("'", "''") + "'";

// Every type etl reads, nulls at every level, in N rows.
const typesQuery = (n) => `
SELECT i AS id,
  CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
  CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 37 % 200 - 100)::TINYINT END AS tiny,
  CASE WHEN i % 6 = 0 THEN NULL ELSE (i * 7919 % 100000 - 50000)::INTEGER END AS int32,
  CASE i % 4 WHEN 0 THEN 9223372036854775807 WHEN 1 THEN -9223372036854775808
             WHEN 2 THEN NULL ELSE i * 1234567891 END::BIGINT AS big,
  CASE WHEN i % 9 = 0 THEN NULL ELSE (i / 7.0)::FLOAT END AS real32,
  CASE WHEN i % 8 = 0 THEN NULL ELSE i / 3.0 END::DOUBLE AS real64,
  CASE i % 6 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'Café Lumière 日本語 🎉'
             WHEN 3 THEN 'quote " and \\ backslash' ELSE 'text ' || i END AS s,
  CASE WHEN i % 10 = 0 THEN NULL ELSE DATE '1970-01-01' + (i * 17 - 20000)::INTEGER END AS d,
  CASE WHEN i % 11 = 0 THEN NULL ELSE make_timestamp(i * 1234567891 - 2000000000000000) END AS ts,
  CASE WHEN i % 12 = 0 THEN NULL ELSE make_timestamp(i * 1000000007 + 1)::TIMESTAMP_MS END AS ts_ms,
  CASE WHEN i % 10 = 3 THEN NULL ELSE (i * 12.34 - 5000)::DECIMAL(9,2) END AS dec9,
  CASE WHEN i % 10 = 4 THEN NULL ELSE (i * 98765.4321 - 1e8)::DECIMAL(18,3) END AS dec18,
  CASE WHEN i % 13 = 0 THEN NULL ELSE {'a': CASE WHEN i % 3 = 0 THEN NULL ELSE i END,
       'b': 'x' || i, 'inner': CASE WHEN i % 17 = 0 THEN NULL ELSE {'c': i % 2 = 0} END} END AS st,
  CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN [] ELSE [i, NULL, i + 1] END::INTEGER[] AS li,
  CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN ['a', NULL, ''] ELSE ['é' || i] END AS ls,
  CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN []
       ELSE [{'k': 'k' || i, 'v': i}, NULL, {'k': NULL, 'v': NULL}] END AS lst,
  CASE i % 3 WHEN 0 THEN NULL ELSE [[i], [], NULL, [NULL, i * 2]] END::BIGINT[][] AS nested
FROM range(${n}) t(i)`;

// What NDJSON (or DuckDB reading it back) cannot carry exactly: NaN and
// infinities, bytes, UUIDs, unsigned and nanosecond types, 38 digits.
const specialQuery = `
SELECT i AS id,
  CASE WHEN i % 10 = 5 THEN NULL ELSE (((i - 100)::HUGEINT * 1234567890123456789)::VARCHAR ||
       '.' || lpad((i * 7)::VARCHAR, 10, '0'))::DECIMAL(38,10) END AS dec38,
  CASE i % 5 WHEN 0 THEN 'NaN'::DOUBLE WHEN 1 THEN 'inf'::DOUBLE WHEN 2 THEN '-inf'::DOUBLE
             WHEN 3 THEN NULL ELSE -0.0 END AS dbl,
  CASE i % 4 WHEN 0 THEN 'NaN'::FLOAT WHEN 1 THEN '-inf'::FLOAT WHEN 2 THEN NULL ELSE 1.5 END AS flt,
  CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN ''::BLOB ELSE ('\\x00\\xFF' || i)::BLOB END AS bytes,
  CASE WHEN i % 4 = 0 THEN NULL
       ELSE ('00000000-0000-0000-0000-' || lpad(i::VARCHAR, 12, '0'))::UUID END AS uid,
  CASE WHEN i % 3 = 0 THEN NULL ELSE 18446744073709551615 - i END::UBIGINT AS ubig,
  CASE WHEN i % 3 = 1 THEN NULL ELSE 4294967295 - i * 7 END::UINTEGER AS uint,
  CASE WHEN i % 6 = 0 THEN NULL ELSE make_timestamp(i * 1000003 - 5000000)::TIMESTAMP_NS END AS ts_ns,
  CASE WHEN i % 7 = 0 THEN NULL ELSE ['NaN'::DOUBLE, 'inf'::DOUBLE, NULL] END AS ld,
  NULL::VARCHAR AS never
FROM range(200) t(i)`;

// Few distinct values: dictionary pages; small row groups.
const dictQuery = `
SELECT i AS id, ['red', 'green', 'blue', NULL, 'a much longer category name'][i % 5 + 1] AS category,
  (i % 3)::INTEGER AS small, CASE WHEN i % 2 = 0 THEN NULL ELSE 'same' END AS half
FROM range(10000) t(i)`;

// Data pages v2 in the encodings v2 keeps (PLAIN, dictionary).
const v2PlainQuery = `
SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END AS flag,
  ['red', 'green', NULL][i % 3 + 1] AS cat,
  CASE WHEN i % 4 = 0 THEN NULL ELSE [i % 2 = 0, NULL] END AS lb,
  CASE WHEN i % 5 = 0 THEN NULL ELSE {'c': ['x', 'y'][i % 2 + 1]} END AS st
FROM range(3000) t(i)`;

const samples = [
    ['types_default', typesQuery(3000), ''],
    ['types_snappy', typesQuery(3000), ', COMPRESSION snappy'],
    ['types_none', typesQuery(3000), ', COMPRESSION uncompressed'],
    ['types_zstd', typesQuery(3000), ', COMPRESSION zstd'],
    ['special', specialQuery, ''],
    ['dict_groups', dictQuery, ', ROW_GROUP_SIZE 2048'],
    ['v2_plain', v2PlainQuery, ', PARQUET_VERSION v2'],
    ['v2', typesQuery(500), ', PARQUET_VERSION v2'],
    ['gzip', typesQuery(10), ', COMPRESSION gzip'],
    ['map', "SELECT i AS id, MAP {'k': i} AS m FROM range(3) t(i)", ''],
];

async function connect() {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    return instance.connect();
}

async function rows(con, sql) {
    return (await con.runAndReadAll(sql)).getRowObjectsJson();
}

async function write(con, dir) {
    for (const [name, query, options] of samples) {
        await con.run(`COPY (${query}) TO ${sqlString(`${dir}/${name}.parquet`)} ` +
            `(FORMAT parquet${options})`);
    }
}

async function same(con, a, b) {
    const described = await rows(con, `DESCRIBE SELECT * FROM read_parquet(${sqlString(a)})`);
    const casts = described.map((c) => `CAST("${c.column_name.replaceAll('"', '""')}" AS ${c.column_type})`);
    const ra = `(SELECT row_number() OVER () AS row_no, * FROM read_parquet(${sqlString(a)}))`;
    const rb = `(SELECT row_number() OVER () AS row_no, ${casts.join(', ')} FROM read_parquet(${sqlString(b)}))`;
    const [counts] = await rows(con, `SELECT (SELECT count(*) FROM ${ra}) AS a, (SELECT count(*) FROM ${rb}) AS b`);
    const onlyA = await rows(con, `SELECT * FROM (SELECT * FROM ${ra} EXCEPT ALL SELECT * FROM ${rb}) ORDER BY row_no LIMIT 3`);
    const onlyB = await rows(con, `SELECT * FROM (SELECT * FROM ${rb} EXCEPT ALL SELECT * FROM ${ra}) ORDER BY row_no LIMIT 3`);
    if (counts.a !== counts.b || onlyA.length || onlyB.length) {
        console.log(`DIFFERENT rows a=${counts.a} b=${counts.b}`);
        for (const r of onlyA) console.log('  a only: ' + JSON.stringify(r));
        for (const r of onlyB) console.log('  b only: ' + JSON.stringify(r));
        return false;
    }
    console.log(`ok rows=${counts.a} columns=${described.length}`);
    return true;
}

async function main() {
    const [command, ...args] = process.argv.slice(2);
    const con = await connect();
    if (command === 'write') {
        await write(con, args[0]);
    } else if (command === 'same') {
        process.exit((await same(con, args[0], args[1])) ? 0 : 1);
    } else {
        console.error('usage: write_samples.mjs write DIR | same PARQUET_A PARQUET_B');
        process.exit(2);
    }
}

main().catch((e) => {
    console.error(String(e));
    process.exit(1);
});
