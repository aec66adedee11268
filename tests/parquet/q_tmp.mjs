import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
for (const q of process.argv.slice(2)) {
  try {
    const r = await con.runAndReadAll(q);
    console.log(JSON.stringify(r.getRowObjectsJson(), null, 0).slice(0, 4000));
  } catch (e) { console.log('ERROR', e.message); }
}
