#!/usr/bin/env node
// An Elasticsearch 8.x emulator for etl's tests and benchmarks (Node.js, no
// dependencies). It models what an extraction client meets: indices with
// mappings, 2 shards, point in time (PIT) with keep_alive expiry,
// search_after with the implicit _shard_doc tiebreaker, sliced PIT, scroll,
// range/term/bool queries, _source filtering, _count, _mapping, _bulk, errors
// in Elasticsearch's JSON shapes, fault injection and a request log.
//
//   node tests/es/emulator.mjs [--port 0] [--port-file F] [--docs N] [--seed S]
//        [--index products] [--shards 2] [--rate-429 0.1] [--rate-503 0.1]
//        [--rate-reset 0.01] [--latency-ms 20] [--expire-pit-after N]
//        [--retry-after S] [--no-pit] [--fault-seed N]
//        [--basic user:pass] [--api-key id:key] [--bearer token]
//
// Control endpoints (never logged, never faulted):
//   GET    /_emulator/log[?since=ms]   the request log: [{t, ms, method, path, query, status}]
//   DELETE /_emulator/log              clears it
//   GET    /_emulator/faults           the fault settings
//   POST   /_emulator/faults           merges settings: rate_429, rate_503, rate_cb,
//                                      rate_reset, rate_partial, rate_timed_out,
//                                      latency_ms, retry_after, expire_pit_after,
//                                      expire_pits_now (true: every open PIT and scroll expires)
//   GET    /_emulator/corpus/{index}   NDJSON of every live document's _source (by _id)
//   GET    /_emulator/stats            open PITs and scrolls, documents per index
//   POST   /_emulator/generate/{index}?docs=N&seed=S   (re)creates a product index
// Documents are inserted and updated with the real _bulk API.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { product, productJson, PRODUCT_MAPPING } from './generator.mjs';

// ------------------------------------------------------------------ options
const args = process.argv.slice(2);
function flag(name, fallback) {
  const i = args.indexOf('--' + name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const SHARDS = Number(flag('shards', 2));
const VERSION = '8.17.0';
const MAX_RESULT_WINDOW = 10000;
const MAX_OPEN_SCROLL = 500;

// Authentication: any of these makes every data-plane request need it.
const auth = {
  basic: flag('basic', null),              // user:password
  apiKey: flag('api-key', null),           // id:key (sent base64-encoded)
  bearer: flag('bearer', null),            // token
};
function authorized(header) {
  if (!auth.basic && !auth.apiKey && !auth.bearer) return true;
  if (!header) return false;
  const [scheme, value] = header.split(' ', 2);
  if (auth.basic && scheme === 'Basic') return Buffer.from(value ?? '', 'base64').toString() === auth.basic;
  if (auth.apiKey && scheme === 'ApiKey') return Buffer.from(value ?? '', 'base64').toString() === auth.apiKey;
  if (auth.bearer && scheme === 'Bearer') return value === auth.bearer;
  return false;
}
function unauthenticated(header) {
  const reason = header ? 'unable to authenticate user [elastic] for REST request [/_search]' : 'missing authentication credentials for REST request [/_search]';
  const e = new EsError(401, 'security_exception', reason, { header: { 'WWW-Authenticate': ['Basic realm="security" charset="UTF-8"', 'ApiKey'] } });
  return e;
}

const faults = {
  rate_429: Number(flag('rate-429', 0)),
  rate_503: Number(flag('rate-503', 0)),
  rate_cb: Number(flag('rate-cb', 0)),
  rate_reset: Number(flag('rate-reset', 0)),
  rate_partial: Number(flag('rate-partial', 0)),
  rate_timed_out: Number(flag('rate-timed-out', 0)),
  latency_ms: Number(flag('latency-ms', 0)),
  retry_after: flag('retry-after', null),
  expire_pit_after: Number(flag('expire-pit-after', 0)),
  no_pit: flag('no-pit', false) === true,
};
let faultSeed = Number(flag('fault-seed', 42)) >>> 0;
function random() {                          // mulberry32: reproducible faults
  faultSeed = (faultSeed + 0x6d2b79f5) >>> 0;
  let t = faultSeed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}


// ------------------------------------------------------------------ exact JSON
// Integers beyond 2^53 stay exact: they are parsed as BigInt and written
// back as bare digits, so that filtered _source keeps every digit.
const BIG_MARK = '@@etl-bigint@@';
function parseExact(text) {
  const marked = text.replace(/"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![.eE\d])/g,
    (m) => (m[0] === '"' ? m : `"${BIG_MARK}${m}"`));
  return JSON.parse(marked, (k, v) => (typeof v === 'string' && v.startsWith(BIG_MARK) ? BigInt(v.slice(BIG_MARK.length)) : v));
}
function stringifyExact(value) {
  const text = JSON.stringify(value, (k, v) => (typeof v === 'bigint' ? BIG_MARK + v.toString() : v));
  return text.replace(/"@@etl-bigint@@(-?\d+)"/g, '$1');
}

// ------------------------------------------------------------------ errors
class EsError extends Error {
  constructor(status, type, reason, extra = {}, rootExtra = undefined) {
    super(reason);
    this.status = status;
    this.body = {
      error: {
        root_cause: [{ type, reason, ...(rootExtra ?? extra) }],
        type, reason, ...extra,
      },
      status,
    };
  }
}
const badRequest = (reason, type = 'illegal_argument_exception') => new EsError(400, type, reason);
const parsingError = (reason) => new EsError(400, 'parsing_exception', reason, { line: 1, col: 1 });
function indexNotFound(name) {
  const extra = { 'resource.type': 'index_or_alias', 'resource.id': name, index_uuid: '_na_', index: name };
  return new EsError(404, 'index_not_found_exception', `no such index [${name}]`, extra);
}
function contextMissing(id) {
  const cause = { type: 'search_context_missing_exception', reason: `No search context found for id [${id}]` };
  const e = new EsError(404, 'search_phase_execution_exception', 'all shards failed', {
    phase: 'query', grouped: true,
    failed_shards: [{ shard: -1, index: null, reason: cause }],
    caused_by: cause,
  }, {});
  e.body.error.root_cause = [cause];
  return e;
}
function rejected() {
  return new EsError(429, 'es_rejected_execution_exception',
    'rejected execution of org.elasticsearch.action.search.SearchQueryThenFetchAsyncAction on ' +
    'EsThreadPoolExecutor[name = node-0/search, queue capacity = 1000, task execution rejected]');
}
function circuitBreaking() {
  const extra = { bytes_wanted: 1073741824, bytes_limit: 1020054732, durability: 'TRANSIENT' };
  return new EsError(429, 'circuit_breaking_exception',
    '[parent] Data too large, data for [<http_request>] would be [1073741824/1gb], which is ' +
    'larger than the limit of [1020054732/972.7mb]', extra);
}
function unavailable() {
  return new EsError(503, 'cluster_block_exception',
    'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];');
}

// ------------------------------------------------------------------ indices
// A document: {_id, src (exact _source text, UTF-8 encoded once: responses
// are assembled from these buffers), obj (parsed, for queries), shard,
// docid}. Documents are never mutated: an update is a new document with a
// new Lucene doc id, as in Lucene, so PIT snapshots stay frozen.
const indices = new Map();
let docIdCounter = 0;

class Doc {
  // gen: null, or the {seed, count} the generated product number n came from.
  constructor(id, src, obj, gen = null, n = 0) {
    this._id = id;
    this.src = src;
    this.parsed = obj;
    this.shard = shardOf(id);
    this.docid = ++docIdCounter;
    this.gen = gen;
    this.n = n;
  }

  // A generated product keeps only its text: its parsed form, needed by
  // queries, sorts on fields and _source filtering, is regenerated on first
  // use (a whole parsed corpus is most of the heap, and slows every GC).
  get obj() {
    if (this.parsed === null) {
      const { doc } = product(this.gen.seed, this.n, this.gen.count);
      this.parsed = { ...doc, serial: BigInt(doc.serial) };
    }
    return this.parsed;
  }
}

function shardOf(id) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  return ((h % SHARDS) + SHARDS) % SHARDS;
}

function createIndex(name, mappings = { properties: {} }) {
  const index = { name, uuid: crypto.randomBytes(16).toString('base64url').slice(0, 22),
    mappings, docs: new Map(), version: 0, created: Date.now() };
  indices.set(name, index);
  return index;
}

function putDoc(index, id, src, obj) {
  const doc = new Doc(id, Buffer.from(src), obj);
  const existed = index.docs.has(id);
  index.docs.delete(id);                     // re-insert: iteration order = doc id order
  index.docs.set(id, doc);
  index.version++;
  dynamicMapping(index.mappings, obj);
  return existed;
}

// New fields get a mapping as ES's dynamic mapping would give them.
function dynamicMapping(mappings, obj) {
  if (mappings.dynamic === false || mappings.dynamic === 'false') return;
  mappings.properties ??= {};
  for (const [k, v] of Object.entries(obj)) {
    const p = mappings.properties;
    if (v === null || p[k]) {
      if (p[k] && p[k].properties && v && typeof v === 'object' && !Array.isArray(v)) dynamicMapping(p[k], v);
      continue;
    }
    const sample = Array.isArray(v) ? v.find((x) => x !== null) : v;
    if (sample === undefined) continue;
    if (typeof sample === 'object') {
      p[k] = { properties: {} };
      dynamicMapping(p[k], sample);
    } else if (typeof sample === 'boolean') p[k] = { type: 'boolean' };
    else if (typeof sample === 'bigint') p[k] = { type: 'long' };
    else if (typeof sample === 'number') p[k] = { type: Number.isInteger(sample) ? 'long' : 'float' };
    else if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(sample)) p[k] = { type: 'date' };
    else p[k] = { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
  }
}

function generateProducts(name, count, seed) {
  const index = createIndex(name, structuredClone(PRODUCT_MAPPING));
  const gen = { seed, count };
  for (let i = 1; i <= count; i++) {
    const { _id, doc } = product(seed, i, count);
    index.docs.set(_id, new Doc(_id, Buffer.from(productJson(doc)), null, gen, i));
  }
  index.version++;
  return index;
}

function resolveIndex(name) {
  if (name === '_all' || name === '*') return [...indices.values()];
  const out = [];
  for (const part of name.split(',')) {
    if (part.includes('*')) {
      const re = new RegExp('^' + part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
      for (const ix of indices.values()) if (re.test(ix.name)) out.push(ix);
    } else {
      const ix = indices.get(part);
      if (!ix) throw indexNotFound(part);
      out.push(ix);
    }
  }
  return out;
}

// ------------------------------------------------------------------ values
function fieldType(mappings, path) {
  let props = mappings.properties ?? {};
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const m = props[parts[i]];
    if (!m) return undefined;
    if (i === parts.length - 1) return m.type ?? 'object';
    props = m.properties ?? (m.fields ?? {});
  }
  return undefined;
}

// All values of a path in a document (arrays and arrays of objects flatten).
function valuesAt(obj, path) {
  let cur = [obj];
  for (const part of path.split('.')) {
    const next = [];
    for (const c of cur) {
      if (c === null || typeof c !== 'object') continue;
      const v = c[part];
      if (v === undefined || v === null) continue;
      if (Array.isArray(v)) for (const x of v.flat(Infinity)) { if (x !== null) next.push(x); } else next.push(v);
    }
    cur = next;
  }
  return cur;
}

function parseDateMath(v) {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  if (/^-?\d+$/.test(v)) return Number(v);
  const m = /^now(?:([+-])(\d+)([smhd]))?$/.exec(v);
  if (m) {
    const unit = { s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[3]] ?? 0;
    return Date.now() + (m[1] === '-' ? -1 : 1) * Number(m[2] ?? 0) * unit;
  }
  const t = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(v) || v.length <= 10 ? v : v + 'Z');
  return t;
}

// The value a field sorts and compares by: dates as epoch millis, numbers,
// strings; keyword subfields (name.keyword) read their parent.
function sortableValue(mappings, doc, field, mode) {
  const type = fieldType(mappings, field);
  const path = field.endsWith('.keyword') && type === 'keyword' ? field.slice(0, -8) : field;
  let vals = valuesAt(doc.obj, path);
  if (vals.length === 0) return null;
  if (type === 'date' || type === 'date_nanos') vals = vals.map(parseDateMath);
  else if (['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long'].includes(type)) vals = vals.map(Number);
  else if (type === 'boolean') vals = vals.map((v) => (v === true || v === 'true' ? 1 : 0));
  else vals = vals.map(String);
  vals.sort(compareScalar);
  return mode === 'max' ? vals[vals.length - 1] : vals[0];
}

function compareScalar(a, b) {
  if (a === b) return 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : 1;
  const sa = String(a), sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

// ------------------------------------------------------------------ queries
function compileQuery(q, mappings) {
  if (q === undefined || q === null) return () => true;
  if (typeof q !== 'object' || Array.isArray(q)) throw parsingError('[query] malformed query, expected [START_OBJECT]');
  const keys = Object.keys(q);
  if (keys.length !== 1) throw parsingError(`[${keys[1] ?? '_na_'}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]`);
  const kind = keys[0], body = q[kind];
  switch (kind) {
    case 'match_all': return () => true;
    case 'match_none': return () => false;
    case 'ids': { const set = new Set(body.values ?? []); return (d) => set.has(d._id); }
    case 'exists': return (d) => valuesAt(d.obj, body.field).length > 0;
    case 'term': case 'match': case 'match_phrase': {
      const [field, spec] = Object.entries(body)[0];
      const want = spec !== null && typeof spec === 'object' ? (spec.value ?? spec.query) : spec;
      return (d) => matchValue(mappings, d, field, [want], kind !== 'term');
    }
    case 'terms': {
      const [field, list] = Object.entries(body)[0];
      return (d) => matchValue(mappings, d, field, list, false);
    }
    case 'range': {
      const [field, spec] = Object.entries(body)[0];
      const type = fieldType(mappings, field);
      const conv = type === 'date' || type === 'date_nanos' ? parseDateMath
        : (v) => (typeof v === 'string' && !['keyword', 'text'].includes(type) ? Number(v) : v);
      const checks = [];
      for (const op of ['gt', 'gte', 'lt', 'lte', 'from', 'to']) {
        if (spec[op] === undefined || spec[op] === null) continue;
        const bound = conv(spec[op]);
        if (typeof bound === 'number' && Number.isNaN(bound)) throw parsingError(`failed to parse date field [${spec[op]}]`);
        const o = op === 'from' ? (spec.include_lower === false ? 'gt' : 'gte') : op === 'to' ? (spec.include_upper === false ? 'lt' : 'lte') : op;
        checks.push((v) => { const c = compareScalar(v, bound); return o === 'gt' ? c > 0 : o === 'gte' ? c >= 0 : o === 'lt' ? c < 0 : c <= 0; });
      }
      return (d) => {
        let vals = valuesAt(d.obj, field);
        if (type === 'date' || type === 'date_nanos') vals = vals.map(parseDateMath);
        return vals.some((v) => checks.every((c) => c(v)));
      };
    }
    case 'bool': {
      const list = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]).map((c) => compileQuery(c, mappings));
      const must = [...list(body.must), ...list(body.filter)], should = list(body.should), not = list(body.must_not);
      const minShould = body.minimum_should_match ?? (must.length ? 0 : 1);
      return (d) => must.every((f) => f(d)) && !not.some((f) => f(d)) &&
        (should.length === 0 || should.filter((f) => f(d)).length >= Math.min(minShould, should.length));
    }
    case 'constant_score': return compileQuery(body.filter, mappings);
    default: throw parsingError(`unknown query [${kind}]`);
  }
}

function matchValue(mappings, d, field, wanted, analyzed) {
  const type = fieldType(mappings, field);
  const path = field.endsWith('.keyword') ? field.slice(0, -8) : field;
  const vals = valuesAt(d.obj, path);
  return vals.some((v) => wanted.some((w) => {
    if (analyzed && type === 'text') return String(v).toLowerCase().split(/\W+/).includes(String(w).toLowerCase());
    if (type === 'date') return parseDateMath(v) === parseDateMath(w);
    return String(v) === String(w);
  }));
}

// ------------------------------------------------------------------ sort
// sort entries: [{field, desc, missingFirst, kind: 'field'|'shard_doc'|'score'|'doc'}]
function parseSort(sort, withPit) {
  const entries = [];
  const list = sort === undefined ? [] : Array.isArray(sort) ? sort : [sort];
  for (const s of list) {
    let field, order, missing;
    if (typeof s === 'string') { field = s; order = undefined; } else if (s && typeof s === 'object') {
      [field] = Object.keys(s);
      const spec = s[field];
      if (typeof spec === 'string') order = spec;
      else if (spec && typeof spec === 'object') { order = spec.order; missing = spec.missing; }
    } else throw parsingError('[sort] unexpected value');
    if (order !== undefined && order !== 'asc' && order !== 'desc') throw badRequest(`Unknown SortOrder [${order}]`);
    const kind = field === '_shard_doc' ? 'shard_doc' : field === '_score' ? 'score' : field === '_doc' ? 'doc' : 'field';
    if (kind === 'shard_doc' && !withPit) throw badRequest('[_shard_doc] sort field cannot be used without [point in time]');
    const desc = order === undefined ? kind === 'score' : order === 'desc';
    entries.push({ field, kind, desc, missingFirst: missing === '_first' ? !desc : missing === '_last' ? desc : desc });
  }
  if (entries.length === 0) entries.push({ field: '_score', kind: 'score', desc: true });
  if (withPit && !entries.some((e) => e.kind === 'shard_doc')) entries.push({ field: '_shard_doc', kind: 'shard_doc', desc: false });
  return entries;
}

function shardDoc(doc, shardIndex) {
  return shardIndex * 4294967296 + doc.docid;   // (shard index << 32) | doc id, below 2^53
}

function sortKeys(entries, mappings, doc, shardIndex) {
  return entries.map((e) => {
    if (e.kind === 'shard_doc' || e.kind === 'doc') return shardDoc(doc, shardIndex);
    if (e.kind === 'score') return 1.0;
    return sortableValue(mappings, doc, e.field, e.desc ? 'max' : 'min');
  });
}

function compareKeys(entries, a, b) {
  for (let i = 0; i < entries.length; i++) {
    const x = a[i], y = b[i];
    if (x === y) continue;
    if (x === null || y === null) {
      const missingFirst = entries[i].missingFirst;
      return (x === null) === missingFirst ? -1 : 1;
    }
    let c = compareScalar(x, y);
    if (entries[i].desc) c = -c;
    if (c !== 0) return c;
  }
  return 0;
}

// search_after values as sortable keys: dates may come as text, _shard_doc
// and longs as numbers beyond 2^53 (compared by value, they sort right).
function afterKeys(entries, mappings, after) {
  if (!Array.isArray(after)) throw parsingError('[search_after] expected an array');
  if (after.length !== entries.length) {
    throw badRequest(`search_after has ${after.length} value(s) but sort has ${entries.length}.`);
  }
  return after.map((v, i) => {
    const e = entries[i];
    if (v === null) return null;
    if (e.kind !== 'field') return Number(v);
    const type = fieldType(mappings, e.field);
    if (type === 'date' || type === 'date_nanos') return parseDateMath(v);
    if (typeof v === 'number' || (typeof v === 'string' && !['keyword', 'text', undefined].includes(type))) return Number(v);
    return String(v);
  });
}

// ------------------------------------------------------------------ contexts
// A PIT or scroll context: a frozen list of documents (with the shard index
// they have within the context, and their _shard_doc sort key) and a lazily
// checked expiry.
const pits = new Map();
const scrolls = new Map();

function parseKeepAlive(text, what) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(String(text ?? ''));
  if (!m) throw parsingError(`failed to parse setting [${what}] with value [${text}] as a time value: unit is missing or unrecognized`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2]];
  if (ms > 24 * 3600000) {
    throw badRequest(`Keep alive for request (${text}) is too large. It must be less than (1d). This limit can be set by changing the [search.max_keep_alive] cluster level setting.`);
  }
  return ms;
}

// Contexts opened on unchanged indices share one snapshot (documents are
// immutable and every change bumps the index version; nobody mutates a
// snapshot array), and with it the sorted hits computed over it: a
// benchmark's runs then cost one sort, not one per PIT.
const snapshots = new Map();                 // index names -> {list, versions, docs}
const sharedHits = new WeakMap();            // snapshot docs -> Map(key -> hits), LRU
const MAX_SNAPSHOTS = 8, MAX_SHARED_SORTS = 3;

// A document in a context. It is a hit of a _shard_doc sort as it is (its
// keys, made on demand: a context holds every document of its indices).
class ContextDoc {
  constructor(doc, shardIndex, index) {
    this.doc = doc;
    this.shardIndex = shardIndex;
    this.index = index;
    this.shardDoc = shardDoc(doc, shardIndex);
  }

  get keys() { return [this.shardDoc]; }
}

function snapshot(list) {
  const key = JSON.stringify(list.map((ix) => ix.name));
  const old = snapshots.get(key);
  if (old && old.list.every((ix, i) => ix === list[i] && ix.version === old.versions[i])) return old.docs;
  const docs = [];
  list.forEach((ix, n) => {
    for (const d of ix.docs.values()) docs.push(new ContextDoc(d, n * SHARDS + d.shard, ix));
  });
  snapshots.delete(key);
  snapshots.set(key, { list, versions: list.map((ix) => ix.version), docs });
  if (snapshots.size > MAX_SNAPSHOTS) snapshots.delete(snapshots.keys().next().value);
  sharedHits.set(docs, new Map());
  return docs;
}

function newContextId(prefix) {
  return Buffer.from(prefix + ':' + crypto.randomBytes(24).toString('hex')).toString('base64url');
}

function getPit(id) {
  const pit = pits.get(id);
  if (!pit || pit.expired || pit.expires < Date.now()) {
    if (pit) pits.delete(id);
    throw contextMissing(pit ? pit.seq : Math.floor(random() * 100000));
  }
  return pit;
}

let contextSeq = 0;

// ------------------------------------------------------------------ search
function sourceFilter(spec, query) {
  let includes = [], excludes = [], enabled = true;
  if (spec === false) enabled = false;
  else if (typeof spec === 'string') includes = [spec];
  else if (Array.isArray(spec)) includes = spec;
  else if (spec && typeof spec === 'object') { includes = spec.includes ?? spec.include ?? []; excludes = spec.excludes ?? spec.exclude ?? []; }
  if (query.get('_source') === 'false') enabled = false;
  if (query.get('_source_includes')) includes = query.get('_source_includes').split(',');
  if (query.get('_source_excludes')) excludes = query.get('_source_excludes').split(',');
  if (typeof includes === 'string') includes = [includes];
  if (typeof excludes === 'string') excludes = [excludes];
  return { enabled, includes, excludes };
}

function globMatch(pattern, path) {
  if (!pattern.includes('*')) return pattern === path;
  const re = new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(path);
}

// ES's rule: a path is kept whole if it matches an include (the default
// when there are none), kept in part if an include reaches below it, and
// dropped if it matches an exclude.
function inclusion(path, includes) {
  if (includes.length === 0 || includes.some((p) => globMatch(p, path))) return 'all';
  return includes.some((p) => p.startsWith(path + '.') || (p.includes('*') && globMatch(p, path + '.x'))) ? 'part' : 'none';
}

function filterObject(obj, includes, excludes, prefix = '') {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix + k;
    if (excludes.some((p) => globMatch(p, path))) continue;
    const how = inclusion(path, includes);
    if (how === 'none') continue;
    if (v === null || typeof v !== 'object') {
      if (how === 'all') out[k] = v;
      continue;
    }
    if (how === 'all' && !excludes.some((p) => p.startsWith(path + '.') || p.includes('*'))) {
      out[k] = v;
      continue;
    }
    const inner = how === 'all' ? [] : includes;
    const sub = (x) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? filterObject(x, inner, excludes, path + '.') : x);
    const filtered = Array.isArray(v) ? v.map(sub) : sub(v);
    const empty = Array.isArray(filtered) ? false : Object.keys(filtered).length === 0;
    if (how === 'all' || !empty) out[k] = filtered;
  }
  return out;
}

const SOURCE_FIELD = ',"_source":';
const COMMA = 0x2c;
const HITS_END = Buffer.from(']}}');

// A hit's bytes around its _source depend only on the hit (its index, id
// and sort values) and on the sort, which is part of the key its hit list
// is cached under: they are encoded once per hit list, on first use, in
// chunks of ENDS_CHUNK hits (one buffer and one offset table per chunk,
// not two objects per hit: a corpus of hits would weigh on every GC).
//   head: {"_index":..,"_id":..,"_score":..,"_source":    tail: ,"sort":[..]}
// Chunk {buf, at}: hit j's head is buf[at[2j], at[2j+1]), its tail
// buf[at[2j+1], at[2j+2]).
const ENDS_CHUNK = 1024;
const renderedEnds = new WeakMap();          // hit list -> [chunk]

function endsChunk(hits, k, entries) {
  let chunks = renderedEnds.get(hits);
  if (!chunks) renderedEnds.set(hits, chunks = []);
  return chunks[k] ??= renderEnds(hits, k * ENDS_CHUNK, Math.min(hits.length, (k + 1) * ENDS_CHUNK), entries);
}

function renderEnds(hits, from, to, entries) {
  const withSort = entries.some((e) => e.kind !== 'score') || entries.length > 1;
  const score = `,"_score":${entries[0].kind === 'score' ? '1.0' : 'null'}` + SOURCE_FIELD;
  return renderPlainEnds(hits, from, to, withSort, score) ?? renderAnyEnds(hits, from, to, withSort, score);
}

// Any ends, as strings first.
function renderAnyEnds(hits, from, to, withSort, score) {
  const at = new Int32Array(2 * (to - from) + 1);
  let all = '', index = null, prefix = '';
  for (let i = from, j = 1; i < to; i++, j += 2) {
    const h = hits[i];
    if (h.index !== index) {
      index = h.index;
      prefix = `{"_index":${JSON.stringify(index.name)},"_id":`;
    }
    all += prefix + JSON.stringify(h.doc._id) + score;
    at[j] = all.length;
    all += withSort ? ',"sort":' + keysJson(h.keys) + '}' : '}';
    at[j + 1] = all.length;
  }
  const buf = Buffer.from(all);
  if (buf.length !== all.length) {
    // Not ASCII: offsets in bytes. JSON.stringify leaves no lone surrogate,
    // so each piece encodes on its own as it does within the whole.
    for (let j = 1, prev = 0, bytes = 0; j < at.length; j++) {
      bytes += Buffer.byteLength(all.slice(prev, at[j]));
      prev = at[j];
      at[j] = bytes;
    }
  }
  return { buf, at };
}

// The usual ends, written straight as bytes: index names and ids of
// printable ASCII without quote or backslash (JSON.stringify adds only the
// quotes), sort values that are safe integers. Anything else: null.
const SORT_FIELD = Buffer.from(',"sort":[');

function renderPlainEnds(hits, from, to, withSort, score) {
  const scoreBytes = Buffer.from(score, 'latin1');
  let buf = Buffer.allocUnsafe(128 * (to - from) + 64);
  const at = new Int32Array(2 * (to - from) + 1);
  let off = 0, index = null, prefix = null;
  for (let i = from, j = 1; i < to; i++, j += 2) {
    const h = hits[i], id = h.doc._id;
    if (h.index !== index) {
      index = h.index;
      if (!plainAscii(index.name)) return null;
      prefix = Buffer.from(`{"_index":"${index.name}","_id":"`, 'latin1');
    }
    const keys = withSort && !(h instanceof ContextDoc) ? h.keys : null;
    const room = prefix.length + id.length + scoreBytes.length + 14 + (keys ? 18 * keys.length : 18);
    if (off + room > buf.length) {
      const bigger = Buffer.allocUnsafe(2 * buf.length + room);
      bigger.set(buf.subarray(0, off), 0);
      buf = bigger;
    }
    off = copyBytes(buf, off, prefix);
    for (let c = 0; c < id.length; c++) {
      const code = id.charCodeAt(c);
      if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return null;
      buf[off++] = code;
    }
    buf[off++] = 0x22;                           // "
    off = copyBytes(buf, off, scoreBytes);
    at[j] = off;
    if (withSort) {
      off = copyBytes(buf, off, SORT_FIELD);
      if (keys === null) off = writeInteger(buf, off, h.shardDoc);   // a context's own document
      else {
        for (let k = 0; k < keys.length; k++) {
          if (!Number.isSafeInteger(keys[k])) return null;
          if (k > 0) buf[off++] = 0x2c;              // ,
          off = writeInteger(buf, off, keys[k]);
        }
      }
      buf[off++] = 0x5d;                         // ]
    }
    buf[off++] = 0x7d;                           // }
    at[j + 1] = off;
  }
  const exact = Buffer.allocUnsafeSlow(off);     // kept as long as the hit list: no slack
  exact.set(buf.subarray(0, off), 0);
  return { buf: exact, at };
}

// Short constant pieces: a byte loop beats a native call.
function copyBytes(buf, off, bytes) {
  for (let i = 0; i < bytes.length; i++) buf[off++] = bytes[i];
  return off;
}

function plainAscii(text) {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

// A safe integer in decimal, as String(n) writes it. Digits come from
// remainders, which are exact for doubles (a quotient may not be).
function writeInteger(buf, off, n) {
  if (n < 0) {
    buf[off++] = 0x2d;                           // -
    n = -n;
  }
  let digits = 1;
  for (let t = n; t >= 10; t = (t - t % 10) / 10) digits++;
  for (let p = off + digits - 1; p >= off; p--) {
    const d = n % 10;
    buf[p] = 0x30 + d;
    n = (n - d) / 10;
  }
  return off + digits;
}

// JSON.stringify(keys), faster for the usual single finite number.
function keysJson(keys) {
  if (keys.length === 1 && typeof keys[0] === 'number' && Number.isFinite(keys[0])) return '[' + keys[0] + ']';
  return JSON.stringify(keys);
}

// Response buffers are reused once their response has been handed to the
// socket: a fresh megabyte per page costs page faults and external-memory
// garbage collections. A pooled buffer is a view with RECYCLE set; send()
// gives it back when the response finishes.
const RECYCLE = Symbol('recycle');
const spareBuffers = [];
const MAX_SPARE = 4, MAX_POOLED = 16 << 20, MIN_POOLED = 64 << 10;

function takeBuffer(size) {
  if (size < MIN_POOLED || size > MAX_POOLED) return Buffer.allocUnsafe(size);
  let i = spareBuffers.findIndex((b) => b.length >= size);
  const whole = i >= 0 ? spareBuffers.splice(i, 1)[0] : Buffer.allocUnsafeSlow(Math.min(MAX_POOLED, 2 ** Math.ceil(Math.log2(size))));
  const view = whole.subarray(0, size);
  view[RECYCLE] = whole;
  return view;
}

function recycle(whole) {
  if (spareBuffers.length < MAX_SPARE) spareBuffers.push(whole);
}

// The response: `before`, hits[from, to) comma-separated, then ]}}. Built
// in one buffer from pre-encoded pieces: no response-sized string is ever
// made or encoded.
function renderHits(before, hits, from, to, entries, filter) {
  const cut = filter.enabled ? 0 : SOURCE_FIELD.length;
  const filtered = filter.enabled && (filter.includes.length > 0 || filter.excludes.length > 0);
  const srcs = [];
  const chunks = [];
  let total = before.length + HITS_END.length + (to > from ? to - from - 1 : 0);
  for (let k = Math.floor(from / ENDS_CHUNK); k * ENDS_CHUNK < to; k++) {
    const base = k * ENDS_CHUNK, chunk = endsChunk(hits, k, entries), at = chunk.at;
    chunks.push(chunk);
    const first = Math.max(from, base), last = Math.min(to, base + ENDS_CHUNK);
    total += at[2 * (last - base)] - at[2 * (first - base)] - cut * (last - first);
  }
  if (filter.enabled) {
    for (let i = from; i < to; i++) {
      const src = filtered ? Buffer.from(stringifyExact(filterObject(hits[i].doc.obj, filter.includes, filter.excludes))) : hits[i].doc.src;
      srcs.push(src);
      total += src.length;
    }
  }
  const out = takeBuffer(total);
  out.set(before, 0);
  let off = before.length;
  let i = from;
  for (const { buf, at } of chunks) {
    const base = i - (i % ENDS_CHUNK), last = Math.min(to, base + ENDS_CHUNK);
    for (; i < last; i++) {
      if (i > from) out[off++] = COMMA;
      const j = 2 * (i - base);
      // Heads and tails are short: a byte loop beats a subarray per piece.
      for (let a = at[j], e = at[j + 1] - cut; a < e; a++) out[off++] = buf[a];
      if (filter.enabled) {
        const src = srcs[i - from];
        out.set(src, off);
        off += src.length;
      }
      for (let a = at[j + 1], e = at[j + 2]; a < e; a++) out[off++] = buf[a];
    }
  }
  out.set(HITS_END, off);
  return out;
}

// Splits a context's documents among slices: by shard first, then by
// contiguous doc-id ranges within the shard (as a sliced PIT does).
function sliceFilter(slice, docs) {
  if (slice === undefined) return docs;
  const { id, max } = slice;
  if (!Number.isInteger(id) || !Number.isInteger(max) || max < 1 || id < 0 || id >= max) {
    throw badRequest(max <= 1 ? 'max must be greater than 1' : `id must be lower than max`);
  }
  if (max > 1024) {
    throw badRequest(`The number of slices [${max}] is too large. It must be less than [1024]. This limit can be set by changing the [index.max_slices_per_scroll] index level setting.`);
  }
  let shardCount = SHARDS;
  for (const d of docs) if (d.shardIndex >= shardCount) shardCount = d.shardIndex + 1;
  if (max < shardCount) return docs.filter((d) => d.shardIndex % max === id);
  const shard = id % shardCount;
  const sub = Math.floor(id / shardCount);
  const subCount = Math.floor((max - 1 - shard) / shardCount) + 1;
  const inShard = docs.filter((d) => d.shardIndex === shard).sort((a, b) => a.doc.docid - b.doc.docid);
  const from = Math.floor(inShard.length * sub / subCount), to = Math.floor(inShard.length * (sub + 1) / subCount);
  return inShard.slice(from, to);
}

// Matching documents of a context, sorted; cached per (context, query, sort,
// slice), and shared by contexts on the same snapshot with the same
// mappings, unless the query reads the clock (date math on now).
function sortedHits(ctx, body, entries) {
  const key = JSON.stringify([body.query ?? null, entries, body.slice ?? null]);
  if (ctx.cacheKey === key) return ctx.cache;
  let shared = sharedHits.get(ctx.docs);
  if (shared && /now/.test(key)) shared = undefined;
  const sharedKey = shared && key + JSON.stringify(ctx.mappings);
  let hits = shared && shared.get(sharedKey);
  if (hits) shared.delete(sharedKey);
  else hits = computeHits(ctx, body, entries);
  if (shared) {
    shared.set(sharedKey, hits);
    if (shared.size > MAX_SHARED_SORTS) shared.delete(shared.keys().next().value);
  }
  ctx.cacheKey = key;
  ctx.cache = hits;
  return hits;
}

function computeHits(ctx, body, entries) {
  const mappings = ctx.mappings;
  const match = compileQuery(body.query, mappings);
  const docs = sliceFilter(body.slice, ctx.docs).filter((d) => match(d.doc));
  // Context entries are hits already, with the keys of a _shard_doc sort.
  if (entries.length === 1 && (entries[0].kind === 'shard_doc' || entries[0].kind === 'doc')) return sortByShardDoc(docs, entries[0].desc);
  const hits = docs.map((d) => ({ doc: d.doc, shardIndex: d.shardIndex, index: d.index, keys: sortKeys(entries, mappings, d.doc, d.shardIndex) }));
  hits.sort((a, b) => compareKeys(entries, a.keys, b.keys));
  return hits;
}

// One numeric key, (shard index << 32) | doc id, distinct per document:
// any correct sort gives the one order. Snapshots list each index's
// documents in doc id order, so grouping by shard index (linear, stable)
// nearly always sorts; checked, and sorted if not.
function sortByShardDoc(hits, desc) {
  const groups = [];
  for (const h of hits) (groups[h.shardIndex] ??= []).push(h);
  let out = [];
  for (const g of groups) if (g) for (const h of g) out.push(h);
  for (let i = 1; i < out.length; i++) {
    if (out[i - 1].shardDoc > out[i].shardDoc) {
      out = hits.sort((a, b) => a.shardDoc - b.shardDoc);
      break;
    }
  }
  return desc ? out.reverse() : out;
}

function firstAfter(hits, entries, after) {
  let lo = 0, hi = hits.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareKeys(entries, hits[mid].keys, after) <= 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function shardsHeader(total, failed = 0) {
  const s = { total, successful: total - failed, skipped: 0, failed };
  if (failed) {
    s.failures = [{ shard: 0, index: 'products', node: 'node-0', reason: { type: 'node_not_connected_exception', reason: '[node-1][127.0.0.1:9300] Node not connected' } }];
  }
  return s;
}

function totalHits(body, n) {
  const track = body.track_total_hits ?? 10000;
  if (track === false) return undefined;
  if (track === true) return { value: n, relation: 'eq' };
  return n > track ? { value: track, relation: 'gte' } : { value: n, relation: 'eq' };
}

// The bounds of array.slice(start, end) on an array of length len (pages
// are ranges of a cached hit list, never copies of it).
function sliceRange(len, start, end) {
  const bound = (x) => {
    const n = Math.trunc(Number(x)) || 0;
    return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
  };
  const from = bound(start), to = end === undefined ? len : bound(end);
  return [from, Math.max(from, to)];
}

// The page is hits[from, to).
function searchResponse({ started, pitId, scrollId, hits, from, to, entries, filter, body, total, shardTotal }) {
  const partial = random() < faults.rate_partial;
  const timedOut = !partial && random() < faults.rate_timed_out;
  const t = totalHits(body, total);
  if (partial || timedOut) to = from + Math.floor((to - from) / 2);
  let out = '{';
  if (pitId) out += `"pit_id":${JSON.stringify(pitId)},`;
  if (scrollId) out += `"_scroll_id":${JSON.stringify(scrollId)},`;
  out += `"took":${Date.now() - started},"timed_out":${timedOut},"_shards":${JSON.stringify(shardsHeader(shardTotal, partial ? 1 : 0))},`;
  out += `"hits":{${t ? `"total":${JSON.stringify(t)},` : ''}"max_score":${entries[0].kind === 'score' && to > from ? '1.0' : 'null'},"hits":[`;
  return renderHits(Buffer.from(out), hits, from, to, entries, filter);
}

function checkWindow(body) {
  const from = body.from ?? 0, size = body.size ?? 10;
  if (!Number.isInteger(size) || size < 0) throw badRequest(`[size] parameter cannot be negative, found [${size}]`);
  if (from + size > MAX_RESULT_WINDOW) {
    const e = badRequest(`Result window is too large, from + size must be less than or equal to: [${MAX_RESULT_WINDOW}] but was [${from + size}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.`);
    const cause = e.body.error.root_cause[0];
    e.body.error = { root_cause: [cause], type: 'search_phase_execution_exception', reason: 'all shards failed', phase: 'query', grouped: true, failed_shards: [{ shard: 0, index: body.__index ?? 'products', node: 'node-0', reason: cause }], caused_by: cause };
    throw e;
  }
  return { from: from < 0 ? 0 : from, size };
}

function search(indexName, body, query, started) {
  const withPit = body.pit !== undefined;
  const scroll = query.get('scroll');
  let ctx, pitId;
  if (withPit) {
    if (indexName) throw badRequest('[indices] cannot be used with point in time. Do not specify any index with point in time.', 'action_request_validation_exception');
    if (scroll) throw badRequest('using [point in time] is not allowed in a scroll context');
    pitId = body.pit.id;
    ctx = getPit(pitId);
    if (faults.expire_pit_after > 0 && ++ctx.searches > faults.expire_pit_after) {
      faults.expire_pit_after = 0;           // once
      pits.delete(pitId);
      throw contextMissing(ctx.seq);
    }
    if (body.pit.keep_alive !== undefined) ctx.expires = Date.now() + parseKeepAlive(body.pit.keep_alive, 'keep_alive');
  } else {
    const list = resolveIndex(indexName ?? '_all');
    ctx = { docs: snapshot(list), mappings: mergedMappings(list), shards: list.length * SHARDS };
  }
  const entries = parseSort(body.sort, withPit);
  if (body.search_after !== undefined && (body.from ?? 0) > 0) throw badRequest('[from] parameter must be set to 0 when [search_after] is used');
  if (query.get('size') !== null && body.size === undefined) body.size = Number(query.get('size'));
  if (query.get('from') !== null && body.from === undefined) body.from = Number(query.get('from'));
  const { from, size } = checkWindow(body);
  const filter = sourceFilter(body._source, query);
  if (scroll) {
    if (body.track_total_hits === false) throw badRequest('disabling [track_total_hits] is not allowed in a scroll context');
    return openScroll(ctx, { ...body, track_total_hits: true }, entries, filter, scroll, started);
  }
  const hits = sortedHits(ctx, body, entries);
  let start = from;
  if (body.search_after !== undefined) start = firstAfter(hits, entries, afterKeys(entries, ctx.mappings, body.search_after));
  const [a, b] = sliceRange(hits.length, start, start + size);
  return searchResponse({ started, pitId, hits, from: a, to: b, entries, filter, body, total: hits.length, shardTotal: ctx.shards });
}

function mergedMappings(list) {
  const props = {};
  for (const ix of list) Object.assign(props, ix.mappings.properties ?? {});
  return { properties: props };
}

function openScroll(base, body, entries, filter, keepAlive, started) {
  if (scrolls.size >= MAX_OPEN_SCROLL) {
    throw badRequest(`Trying to create too many scroll contexts. Must be less than or equal to: [${MAX_OPEN_SCROLL}]. This limit can be set by changing the [search.max_open_scroll_context] setting.`);
  }
  const ms = parseKeepAlive(keepAlive, 'scroll');
  let docs = base.docs;
  if (body.slice !== undefined) {
    const { id, max } = body.slice;
    if (!Number.isInteger(id) || !Number.isInteger(max) || id >= max) throw badRequest('id must be lower than max');
    docs = docs.filter((d) => {
      let h = 0;
      for (let i = 0; i < d.doc._id.length; i++) h = (Math.imul(h, 31) + d.doc._id.charCodeAt(i)) | 0;
      return ((h % max) + max) % max === id;
    });
  }
  const ctx = { docs, mappings: base.mappings, shards: base.shards };
  const hits = sortedHits(ctx, { ...body, slice: undefined }, entries);
  const id = newContextId('scroll');
  const sc = { hits, pos: 0, size: body.size ?? 10, entries, filter, body, expires: Date.now() + ms, shards: base.shards, seq: ++contextSeq };
  scrolls.set(id, sc);
  return scrollPage(id, sc, started);
}

function scrollPage(id, sc, started) {
  const [from, to] = sliceRange(sc.hits.length, sc.pos, sc.pos + sc.size);
  sc.pos += to - from;
  return searchResponse({ started, scrollId: id, hits: sc.hits, from, to, entries: sc.entries, filter: sc.filter, body: sc.body, total: sc.hits.length, shardTotal: sc.shards });
}

function continueScroll(body, query, started) {
  const id = body.scroll_id ?? query.get('scroll_id');
  if (!id) throw badRequest('Validation Failed: 1: scrollId is missing;', 'action_request_validation_exception');
  const sc = scrolls.get(id);
  if (!sc || sc.expired || sc.expires < Date.now()) {
    scrolls.delete(id);
    throw contextMissing(sc ? sc.seq : 0);
  }
  const keep = body.scroll ?? query.get('scroll');
  if (keep) sc.expires = Date.now() + parseKeepAlive(keep, 'scroll');
  else scrolls.delete(id);
  return scrollPage(id, sc, started);
}

function clearScroll(body) {
  let ids = body.scroll_id ?? [];
  if (!Array.isArray(ids)) ids = [ids];
  let freed = 0;
  for (const id of ids) if (scrolls.delete(id)) freed++;
  return { succeeded: true, num_freed: freed };
}

function openPit(indexName, query) {
  if (faults.no_pit) throw badRequest(`no handler found for uri [/${indexName}/_pit] and method [POST]`);
  const keep = query.get('keep_alive');
  if (!keep) throw badRequest('Validation Failed: 1: [keep_alive] is not specified;', 'action_request_validation_exception');
  const ms = parseKeepAlive(keep, 'keep_alive');
  const list = resolveIndex(indexName);
  const id = newContextId('pit');
  pits.set(id, { docs: snapshot(list), mappings: mergedMappings(list), shards: list.length * SHARDS,
    expires: Date.now() + ms, searches: 0, seq: ++contextSeq });
  const shards = list.length * SHARDS;
  return { id, _shards: { total: shards, successful: shards, skipped: 0, failed: 0 } };
}

function closePit(body) {
  if (!body || !body.id) throw badRequest('Validation Failed: 1: [id] is not specified;', 'action_request_validation_exception');
  const existed = pits.delete(body.id);
  return { succeeded: true, num_freed: existed ? 1 : 0 };
}

function count(indexName, body) {
  const list = resolveIndex(indexName ?? '_all');
  const mappings = mergedMappings(list);
  const match = compileQuery(body.query, mappings);
  let n = 0;
  for (const ix of list) for (const d of ix.docs.values()) if (match(d)) n++;
  return { count: n, _shards: { total: list.length * SHARDS, successful: list.length * SHARDS, skipped: 0, failed: 0 } };
}

// ------------------------------------------------------------------ bulk
function bulk(defaultIndex, text, query) {
  const started = Date.now();
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (text.length && !text.endsWith('\n')) throw badRequest('The bulk request must be terminated by a newline [\\n]');
  const items = [];
  let errors = false;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let action;
    try { action = JSON.parse(lines[i]); } catch { throw badRequest(`Malformed action/metadata line [${i + 1}], expected START_OBJECT but found [VALUE_STRING]`); }
    const [op] = Object.keys(action);
    const meta = action[op] ?? {};
    if (!['index', 'create', 'update', 'delete'].includes(op)) throw badRequest(`Malformed action/metadata line [${i + 1}], expected field [create], [delete], [index] or [update] but found [${op}]`);
    const name = meta._index ?? defaultIndex;
    if (!name) throw badRequest('Validation Failed: 1: index is missing;', 'action_request_validation_exception');
    let index = indices.get(name) ?? createIndex(name);
    const id = meta._id ?? crypto.randomBytes(15).toString('base64url');
    let src = op === 'delete' ? null : lines[++i];
    const item = { _index: name, _id: id };
    try {
      if (op === 'delete') {
        const existed = index.docs.delete(id);
        index.version++;
        Object.assign(item, { _version: 1, result: existed ? 'deleted' : 'not_found', status: existed ? 200 : 404 });
      } else {
        let obj;
        try { obj = parseExact(src); } catch (e) {
          throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: ${e.message}`);
        }
        if (op === 'update') {
          const old = index.docs.get(id);
          if (!old) throw new EsError(404, 'document_missing_exception', `[${id}]: document missing`, { shard: '0', index: name, index_uuid: index.uuid });
          obj = { ...old.obj, ...(obj.doc ?? {}) };
          src = stringifyExact(obj);
        }
        if (op === 'create' && index.docs.has(id)) {
          throw new EsError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [1])`, { shard: '0', index: name, index_uuid: index.uuid });
        }
        const existed = putDoc(index, id, src, obj);
        Object.assign(item, { _version: 1, result: existed ? 'updated' : 'created', status: existed ? 200 : 201,
          _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: docIdCounter, _primary_term: 1 });
      }
    } catch (e) {
      if (!(e instanceof EsError)) throw e;
      errors = true;
      const err = { ...e.body.error };
      delete err.root_cause;
      Object.assign(item, { status: e.status, error: { type: err.type, reason: err.reason, index_uuid: index.uuid, shard: '0', index: name } });
    }
    items.push({ [op]: item });
  }
  void query;
  return { took: Date.now() - started, errors, items };
}

// ------------------------------------------------------------------ log
const requestLog = [];

// ------------------------------------------------------------------ http
// body: a Buffer or string of JSON text, or a value to serialize.
function send(res, status, body, extraHeaders = {}) {
  const text = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-elastic-product': 'Elasticsearch',
    'content-length': typeof text === 'string' ? Buffer.byteLength(text) : text.length,
    ...extraHeaders,
  });
  const whole = text[RECYCLE];
  if (whole) res.end(text, (err) => { if (!err) recycle(whole); }); else res.end(text);
}

function parseBody(raw, required = false) {
  if (raw.length === 0) {
    if (required) throw parsingError('request body is required');
    return {};
  }
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new EsError(400, 'x_content_parse_exception', `[1:1] Unexpected character: ${e.message}`);
  }
}

function clusterInfo() {
  return { name: 'node-0', cluster_name: 'etl-emulator', cluster_uuid: 'x3mKzWt0Rq2PaE8f1pK6ZQ',
    version: { number: VERSION, build_flavor: 'default', build_type: 'tar', build_hash: 'emulator',
      build_date: '2024-12-11T12:08:05.663969764Z', build_snapshot: false, lucene_version: '9.12.0',
      minimum_wire_compatibility_version: '7.17.0', minimum_index_compatibility_version: '7.0.0' },
    tagline: 'You Know, for Search' };
}

function mappingOf(indexName) {
  const out = {};
  for (const ix of resolveIndex(indexName)) out[ix.name] = { mappings: ix.mappings };
  return out;
}

function settingsOf(indexName) {
  const out = {};
  for (const ix of resolveIndex(indexName)) {
    out[ix.name] = { settings: { index: { number_of_shards: String(SHARDS), number_of_replicas: '1',
      uuid: ix.uuid, provided_name: ix.name, creation_date: String(ix.created), version: { created: '8512000' } } } };
  }
  return out;
}

// Routes a data-plane request; returns [status, body] or a Promise of it.
function route(method, parts, query, raw, started) {
  const [p0, p1, p2] = parts;
  if (parts.length === 0) {
    if (method === 'GET' || method === 'HEAD') return [200, clusterInfo()];
  }
  if (p0 === '_search' && p1 === 'scroll') {
    if (method === 'DELETE') {
      if (p2 === '_all') { const n = scrolls.size; scrolls.clear(); return [200, { succeeded: true, num_freed: n }]; }
      return [200, clearScroll(parseBody(raw))];
    }
    return [200, continueScroll(parseBody(raw), query, started)];
  }
  if (p0 === '_search' && parts.length === 1) return [200, search(undefined, parseBody(raw), query, started)];
  if (p0 === '_pit' && method === 'DELETE') return [200, closePit(parseBody(raw, true))];
  if (p0 === '_bulk') return [200, bulk(undefined, raw, query)];
  if (p0 === '_count') return [200, count(undefined, parseBody(raw))];
  if (p0 === '_mapping') return [200, mappingOf('_all')];
  if (p0 === '_cat' && p1 === 'indices') {
    return [200, [...indices.values()].map((ix) => ({ health: 'green', status: 'open', index: ix.name, uuid: ix.uuid, pri: String(SHARDS), rep: '0', 'docs.count': String(ix.docs.size) }))];
  }
  if (p0 && !p0.startsWith('_')) {
    const name = decodeURIComponent(p0);
    if (!p1) {
      if (method === 'HEAD') { resolveIndex(name); return [200, '']; }
      if (method === 'PUT') {
        if (indices.has(name)) {
          throw new EsError(400, 'resource_already_exists_exception', `index [${name}/${indices.get(name).uuid}] already exists`, { index_uuid: indices.get(name).uuid, index: name });
        }
        const body = parseBody(raw);
        createIndex(name, body.mappings ?? { properties: {} });
        return [200, { acknowledged: true, shards_acknowledged: true, index: name }];
      }
      if (method === 'DELETE') { resolveIndex(name); indices.delete(name); return [200, { acknowledged: true }]; }
      if (method === 'GET') {
        const out = {};
        for (const ix of resolveIndex(name)) out[ix.name] = { aliases: {}, mappings: ix.mappings, settings: settingsOf(ix.name)[ix.name].settings };
        return [200, out];
      }
    }
    if (p1 === '_search') return [200, search(name, parseBody(raw), query, started)];
    if (p1 === '_pit' && method === 'POST') return [200, openPit(name, query)];
    if (p1 === '_count') return [200, count(name, parseBody(raw))];
    if (p1 === '_mapping') {
      if (method === 'PUT') {
        const ix = resolveIndex(name)[0];
        Object.assign(ix.mappings.properties, parseBody(raw).properties ?? {});
        return [200, { acknowledged: true }];
      }
      return [200, mappingOf(name)];
    }
    if (p1 === '_settings') return [200, settingsOf(name)];
    if (p1 === '_refresh' || p1 === '_flush') return [200, { _shards: { total: SHARDS, successful: SHARDS, failed: 0 } }];
    if (p1 === '_bulk') return [200, bulk(name, raw, query)];
    if (p1 === '_doc' && p2) {
      const id = decodeURIComponent(p2);
      if (method === 'GET') {
        const ix = resolveIndex(name)[0];
        const d = ix.docs.get(id);
        if (!d) return [404, { _index: name, _id: id, found: false }];
        return [200, Buffer.concat([Buffer.from(`{"_index":${JSON.stringify(name)},"_id":${JSON.stringify(id)},"_version":1,"_seq_no":${d.docid},"_primary_term":1,"found":true,"_source":`), d.src, Buffer.from('}')])];
      }
      if (method === 'PUT' || method === 'POST') {
        const index = indices.get(name) ?? createIndex(name);
        if (!raw.length) throw parsingError('request body is required');
        let obj;
        try { obj = parseExact(raw); } catch (e) { throw new EsError(400, 'document_parsing_exception', `[1:1] failed to parse: ${e.message}`); }
        const existed = putDoc(index, id, raw, obj);
        return [existed ? 200 : 201, { _index: name, _id: id, _version: 1, result: existed ? 'updated' : 'created', _shards: { total: 2, successful: 1, failed: 0 }, _seq_no: docIdCounter, _primary_term: 1 }];
      }
    }
  }
  throw badRequest(`no handler found for uri [/${parts.join('/')}] and method [${method}]`);
}

const NEWLINE = Buffer.from('\n');

function control(method, parts, query, raw) {
  const [, what, arg] = parts;
  if (what === 'log') {
    if (method === 'DELETE') { requestLog.length = 0; return [200, { acknowledged: true }]; }
    const since = Number(query.get('since') ?? 0);
    return [200, requestLog.filter((r) => r.t >= since)];
  }
  if (what === 'faults') {
    if (method === 'POST' || method === 'PUT') {
      const body = parseBody(raw);
      if (body.expire_pits_now) {
        for (const p of pits.values()) p.expired = true;
        for (const s of scrolls.values()) s.expired = true;
        delete body.expire_pits_now;
      }
      if (method === 'PUT') for (const k of Object.keys(faults)) faults[k] = k === 'retry_after' ? null : (k === 'no_pit' ? false : 0);
      Object.assign(faults, body);
    }
    return [200, faults];
  }
  if (what === 'corpus') {
    const ix = indices.get(arg);
    if (!ix) throw indexNotFound(arg);
    const lines = [];
    for (const d of ix.docs.values()) lines.push(d.src, NEWLINE);
    return [200, Buffer.concat(lines)];
  }
  if (what === 'stats') {
    return [200, { pits: pits.size, scrolls: scrolls.size, indices: Object.fromEntries([...indices.values()].map((ix) => [ix.name, ix.docs.size])) }];
  }
  if (what === 'generate' && arg) {
    const ix = generateProducts(arg, Number(query.get('docs') ?? 1000), Number(query.get('seed') ?? 1));
    return [200, { index: ix.name, docs: ix.docs.size }];
  }
  throw badRequest(`no handler found for uri [/${parts.join('/')}] and method [${method}]`);
}

function pickFault() {
  const r = random();
  let acc = faults.rate_429;
  if (r < acc) return rejected();
  if (r < (acc += faults.rate_cb)) return circuitBreaking();
  if (r < (acc += faults.rate_503)) return unavailable();
  if (r < (acc += faults.rate_reset)) return 'reset';
  return null;
}

const server = http.createServer({ keepAliveTimeout: 30000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const started = Date.now();
    const url = new URL(req.url, 'http://localhost');
    const parts = url.pathname.split('/').filter((s) => s.length);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (parts[0] === '_emulator') {
      let result;
      try { result = control(req.method, parts, url.searchParams, raw); } catch (e) {
        result = e instanceof EsError ? [e.status, e.body] : [500, { error: String(e) }];
      }
      send(res, result[0], result[1]);
      return;
    }
    const entry = { t: started, ms: 0, method: req.method, path: url.pathname, query: url.search, status: 0 };
    requestLog.push(entry);
    const finish = (status, body, headers) => {
      entry.status = status;
      entry.ms = Date.now() - started;
      if (req.method === 'HEAD') {
        res.writeHead(status, { 'x-elastic-product': 'Elasticsearch', 'content-type': 'application/json', 'content-length': 0 });
        res.end();
      } else send(res, status, body, headers);
    };
    const respond = () => {
      if (!authorized(req.headers.authorization)) {
        const e = unauthenticated(req.headers.authorization);
        finish(e.status, e.body, { 'www-authenticate': 'Basic realm="security" charset="UTF-8"' });
        return;
      }
      const fault = pickFault();
      if (fault === 'reset') {
        entry.status = -1;
        entry.ms = Date.now() - started;
        req.socket.destroy();
        return;
      }
      if (fault) {
        const headers = faults.retry_after !== null && faults.retry_after !== undefined ? { 'retry-after': String(faults.retry_after) } : {};
        finish(fault.status, fault.body, headers);
        return;
      }
      let result;
      try {
        result = route(req.method, parts, url.searchParams, raw, started);
      } catch (e) {
        if (!(e instanceof EsError)) {
          console.error(e);
          e = new EsError(500, 'exception', String(e && e.message));
        }
        result = [e.status, e.body];
      }
      finish(result[0], result[1]);
    };
    if (faults.latency_ms > 0) setTimeout(respond, faults.latency_ms); else respond();
  });
});

// ------------------------------------------------------------------ start
const docs = Number(flag('docs', 0));
if (docs > 0 || flag('index', null)) generateProducts(flag('index', 'products'), docs, Number(flag('seed', 1)));
const port = Number(flag('port', 9200));
server.listen(port, flag('host', '127.0.0.1'), () => {
  const actual = server.address().port;
  const portFile = flag('port-file', null);
  if (portFile) fs.writeFileSync(portFile + '.tmp', String(actual)), fs.renameSync(portFile + '.tmp', portFile);
  console.error(`es-emulator: listening on http://127.0.0.1:${actual} (${docs} documents)`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
