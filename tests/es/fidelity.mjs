#!/usr/bin/env node
// Fidelity of the Elasticsearch emulator, checked with the official client
// (@elastic/elasticsearch 9.x): what the client accepts from a real cluster
// it must accept from the emulator, with the same shapes. Prints TAP.
//
//   node tests/es/fidelity.mjs http://127.0.0.1:PORT   (an emulator with the products index)
import { Client, errors } from '@elastic/elasticsearch';

const url = process.argv[2];
let n = 0, failed = 0;
const ok = (cond, what) => {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
};
const client = new Client({ node: url, maxRetries: 5, requestTimeout: 30000 });
const control = async (method, path, body) => {
  const r = await fetch(url + path, { method, body: body && JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return r.json();
};

async function main() {
  await control('PUT', '/_emulator/faults', {});
  const info = await client.info();
  ok(info.version.number.startsWith('8.') && info.tagline === 'You Know, for Search',
    `info() passes the client's product check (version ${info.version.number})`);

  const mapping = await client.indices.getMapping({ index: 'products' });
  ok(mapping.products.mappings.properties.updated_at.type === 'date', 'indices.getMapping() returns the mapping');

  const { count } = await client.count({ index: 'products' });
  ok(count > 0, `count() = ${count}`);

  // PIT + search_after over everything, by _shard_doc: every id once.
  const pit = await client.openPointInTime({ index: 'products', keep_alive: '1m' });
  ok(typeof pit.id === 'string' && pit._shards.failed === 0, 'openPointInTime() returns an id and _shards');
  let after, pages = 0, pitId = pit.id;
  const seen = new Set();
  for (;;) {
    const r = await client.search({ size: 1000, pit: { id: pitId, keep_alive: '1m' }, sort: [{ _shard_doc: 'asc' }], track_total_hits: false, search_after: after });
    pitId = r.pit_id;
    if (r.hits.hits.length === 0) break;
    for (const h of r.hits.hits) seen.add(h._id);
    after = r.hits.hits[r.hits.hits.length - 1].sort;
    pages++;
  }
  ok(seen.size === count && pages === Math.ceil(count / 1000), `PIT + search_after reads every document once (${seen.size} in ${pages} pages)`);

  // Sorted by a field with ties, tiebreaker implicit: the same set.
  const sorted = new Set();
  after = undefined;
  let previous = -Infinity, ordered = true;
  for (;;) {
    const r = await client.search({ size: 777, pit: { id: pitId, keep_alive: '1m' }, sort: [{ updated_at: 'asc' }], _source: ['id'], search_after: after });
    if (r.hits.hits.length === 0) break;
    for (const h of r.hits.hits) {
      sorted.add(h._id);
      if (h.sort[0] < previous) ordered = false;
      previous = h.sort[0];
    }
    after = r.hits.hits[r.hits.hits.length - 1].sort;
  }
  ok(sorted.size === count && ordered, 'sort on a field with ties plus the implicit _shard_doc: ordered, complete');

  // Slices of one PIT: a partition.
  const sliced = new Set();
  let overlap = 0;
  for (let id = 0; id < 4; id++) {
    let a;
    for (;;) {
      const r = await client.search({ size: 1000, pit: { id: pitId, keep_alive: '1m' }, slice: { id, max: 4 }, sort: ['_shard_doc'], _source: false, search_after: a });
      if (r.hits.hits.length === 0) break;
      for (const h of r.hits.hits) { if (sliced.has(h._id)) overlap++; sliced.add(h._id); }
      a = r.hits.hits[r.hits.hits.length - 1].sort;
    }
  }
  ok(sliced.size === count && overlap === 0, '4 slices of one PIT partition the index');

  const closed = await client.closePointInTime({ id: pitId });
  ok(closed.succeeded === true && closed.num_freed === 1, 'closePointInTime() frees it');

  // An expired PIT: 404 search_context_missing_exception, as the client sees it.
  try {
    await client.search({ size: 1, pit: { id: pitId, keep_alive: '1m' } });
    ok(false, 'a closed PIT is refused');
  } catch (e) {
    ok(e instanceof errors.ResponseError && e.meta.statusCode === 404 &&
      e.body.error.root_cause[0].type === 'search_context_missing_exception',
      'a closed PIT answers 404 search_context_missing_exception');
  }

  // Scroll through the client's helper.
  let scrolled = 0;
  for await (const doc of client.helpers.scrollDocuments({ index: 'products', size: 1000, sort: ['_doc'] })) {
    if (doc.id !== undefined) scrolled++;
  }
  ok(scrolled === count, `helpers.scrollDocuments() reads ${scrolled} documents`);

  // Errors keep Elasticsearch's shapes.
  try {
    await client.search({ index: 'no-such-index' });
    ok(false, 'a missing index is refused');
  } catch (e) {
    ok(e.meta.statusCode === 404 && e.body.error.type === 'index_not_found_exception' &&
      e.body.error.root_cause[0]['resource.id'] === 'no-such-index', 'a missing index: 404 index_not_found_exception');
  }
  try {
    await client.search({ index: 'products', from: 9990, size: 20 });
    ok(false, 'a deep page is refused');
  } catch (e) {
    ok(e.meta.statusCode === 400 && e.body.error.root_cause[0].type === 'illegal_argument_exception' &&
      /Result window is too large/.test(e.body.error.root_cause[0].reason), 'from + size > 10000: 400 with the result window reason');
  }

  // The client retries 502/503/504 (not 429): 503s are absorbed, a 429 is
  // thrown with its es_rejected_execution_exception shape.
  await control('PUT', '/_emulator/faults', { rate_503: 0.5 });
  let retried = 0;
  for (let i = 0; i < 10; i++) {
    const r = await client.search({ index: 'products', size: 1 }, { meta: true });
    retried += r.meta.attempts;
  }
  ok(retried > 0, `with 50% 503 cluster_block_exception the client retries (${retried} retries in 10 searches)`);
  await control('PUT', '/_emulator/faults', { rate_429: 1 });
  try {
    await client.search({ index: 'products', size: 1 });
    ok(false, 'a 429 reaches the client');
  } catch (e) {
    ok(e.meta.statusCode === 429 && e.body.error.type === 'es_rejected_execution_exception' && e.body.status === 429,
      '429 es_rejected_execution_exception reaches the client in its shape');
  }
  await control('PUT', '/_emulator/faults', {});

  // _bulk through the client's helper, then read back.
  const docs = Array.from({ length: 500 }, (_, i) => ({ id: i, v: `x${i}` }));
  const stats = await client.helpers.bulk({ datasource: docs, onDocument: (d) => ({ create: { _index: 'fidelity', _id: String(d.id) } }) });
  const again = await client.helpers.bulk({ datasource: docs, onDocument: (d) => ({ create: { _index: 'fidelity', _id: String(d.id) } }), onDrop: () => {} });
  const back = await client.count({ index: 'fidelity' });
  ok(stats.successful === 500 && again.failed === 500 && back.count === 500, 'helpers.bulk(): 500 created, then 500 refused with 409, 500 stored');

  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok ${n + 1} - unexpected error: ${e && e.message}`);
  console.log(`1..${n + 1}`);
  process.exit(1);
});
