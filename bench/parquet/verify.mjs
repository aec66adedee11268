// Checks that two Parquet files hold the same rows and values, as DuckDB
// reads them: the second file's columns are cast to the first one's types
// (DuckDB reads ISO timestamps in JSON as TIMESTAMP, etl keeps them as
// strings unless a cast says otherwise), then each side's rows, numbered in
// file order, must all be found in the other.
//
//   node bench/parquet/verify.mjs REFERENCE.parquet OTHER.parquet
//
// Prints "same rows=N columns=M" (exit 0) or the first differences (exit 1).
import { DuckDBInstance } from '@duckdb/node-api';

const sqlString = (text) => "'" + text.replaceAll("'", "''") + "'";
const ident = (name) => '"' + name.replaceAll('"', '""') + '"';

async function main() {
    const [reference, other] = process.argv.slice(2);
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    const con = await instance.connect();
    const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
    const described = await rows(`DESCRIBE SELECT * FROM read_parquet(${sqlString(reference)})`);
    const casts = described.map((c) => `CAST(${ident(c.column_name)} AS ${c.column_type}) AS ${ident(c.column_name)}`);
    const a = `(SELECT row_number() OVER () AS row_no, * FROM read_parquet(${sqlString(reference)}))`;
    const b = `(SELECT row_number() OVER () AS row_no, ${casts.join(', ')} FROM read_parquet(${sqlString(other)}))`;
    const [counts] = await rows(`SELECT (SELECT count(*) FROM ${a}) AS a, (SELECT count(*) FROM ${b}) AS b`);
    const onlyA = await rows(`SELECT row_no FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b}) ORDER BY 1 LIMIT 3`);
    const onlyB = await rows(`SELECT row_no FROM (SELECT * FROM ${b} EXCEPT ALL SELECT * FROM ${a}) ORDER BY 1 LIMIT 3`);
    if (counts.a !== counts.b || onlyA.length || onlyB.length) {
        console.log(`DIFFERENT rows=${counts.a}/${counts.b} first rows only in the reference: ` +
            `${onlyA.map((r) => r.row_no).join(',')} only in the other: ${onlyB.map((r) => r.row_no).join(',')}`);
        process.exit(1);
    }
    console.log(`same rows=${counts.a} columns=${described.length}`);
}

main().catch((error) => {
    console.log(`verify: ${error.message}`);
    process.exit(1);
});
