// Seeded e-commerce product documents (about 1 KB each) for the
// Elasticsearch emulator, its tests and the benchmark. Document i depends
// only on (seed, i), so any corpus can be regenerated exactly.
//
// updated_at has deliberate ties: timestamps are whole seconds drawn from a
// window of count/3 seconds, so most documents share theirs with others, in
// an order unrelated to their ids.

const BRANDS = [
  ['Acme', 'US'], ['Nordwind', 'DE'], ['Café Lumière', 'FR'], ['Zenko', 'JP'],
  ['Brightline', 'SE'], ['Ōtsuka', 'JP'], ['Vireo', 'IT'], ['Müller & Söhne', 'DE'],
];
const NOUNS = ['kettle', 'lamp', 'backpack', 'headphones', 'mug', 'jacket', 'sneakers',
  'notebook', 'chair', 'blender'];
const ADJECTIVES = ['classic', 'compact', 'ultra', 'eco', 'smart', 'vintage', 'pro', 'mini',
  '"deluxe"', 'naïve'];
const COLORS = ['black', 'white', 'red', 'blue', 'green', 'sand'];
const TAGS = ['sale', 'new', 'gift', 'bestseller', 'limited', 'outdoor', 'home', 'kids'];
const WORDS = ['durable', 'light', 'water-resistant', 'handmade', 'recycled', 'warm', 'quiet',
  'fast', 'elegant', 'sturdy', 'soft', 'portable', 'everyday', 'premium', 'design', 'comfort',
  'battery', 'steel', 'cotton', 'oak', 'ceramic', 'glass', 'travel', 'office', 'kitchen'];

export const BASE_MS = Date.UTC(2024, 0, 1);    // 2024-01-01T00:00:00Z

// splitmix64 over BigInt is slow; a 32-bit mix of (seed, index, field) is
// plenty for test data.
function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

export function draw(seed, index, field) {
  return mix32(mix32(seed * 0x9e3779b1 + index) ^ Math.imul(field + 1, 0x85ebca6b));
}

const pick = (list, r) => list[r % list.length];

export function isoMillis(ms) {
  const s = new Date(ms).toISOString();          // 2024-01-01T00:00:00.000Z
  return s.endsWith('.000Z') ? s.slice(0, 19) + 'Z' : s;
}

function description(seed, i) {
  const words = [];
  let n = 0;
  for (let k = 0; n < 600; k++) {
    const w = pick(WORDS, draw(seed, i, 100 + k));
    words.push(w);
    n += w.length + 1;
  }
  return words.join(' ');
}

// The product with id i (1-based), and its _id.
export function product(seed, i, count) {
  const r = (f) => draw(seed, i, f);
  const [brand, country] = pick(BRANDS, r(1));
  const window = Math.max(1, Math.floor(count / 3));
  const created = BASE_MS - 86400000 * 30 + (r(2) % (86400 * 30)) * 1000;
  const updated = BASE_MS + (r(3) % window) * 1000 + (r(4) % 10 === 0 ? r(5) % 1000 : 0);
  const nVariants = r(6) % 4;
  const variants = [];
  for (let v = 0; v < nVariants; v++) {
    variants.push({ sku: `SKU-${i}-${v}`, color: pick(COLORS, r(20 + v)), stock: r(30 + v) % 500 });
  }
  const tags = [];
  for (let t = 0; t < r(7) % 4; t++) tags.push(pick(TAGS, r(40 + t)));
  const doc = {
    id: i,
    sku: `SKU-${i}`,
    name: `${pick(ADJECTIVES, r(8))} ${pick(NOUNS, r(9))} ${i}`,
    brand: { name: brand, country },
    price: (r(10) % 100000) / 100,
    currency: r(11) % 5 === 0 ? 'USD' : 'EUR',
    tags,
    variants,
    rating: (r(12) % 50) / 10,
    created_at: isoMillis(created),
    updated_at: isoMillis(updated),
    discount: r(13) % 3 === 0 ? null : (r(14) % 50) / 100,
    active: r(15) % 7 !== 0,
    // A long beyond 2^53: exact only if nobody goes through a double.
    serial: (9007199254740993n + BigInt(i) * 2n).toString(),
    description: description(seed, i),
  };
  return { _id: String(i), doc };
}

// JSON text of a product, with `serial` written as an exact integer.
export function productJson(doc) {
  const { serial, ...rest } = doc;
  const text = JSON.stringify(rest);
  return serial === undefined ? text : text.slice(0, -1) + `,"serial":${serial}}`;
}

export const PRODUCT_MAPPING = {
  properties: {
    id: { type: 'long' },
    sku: { type: 'keyword' },
    name: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
    brand: { properties: { name: { type: 'keyword' }, country: { type: 'keyword' } } },
    price: { type: 'scaled_float', scaling_factor: 100 },
    currency: { type: 'keyword' },
    tags: { type: 'keyword' },
    variants: {
      type: 'nested',
      properties: { sku: { type: 'keyword' }, color: { type: 'keyword' }, stock: { type: 'integer' } },
    },
    rating: { type: 'half_float' },
    created_at: { type: 'date' },
    updated_at: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
    discount: { type: 'float' },
    active: { type: 'boolean' },
    serial: { type: 'long' },
    description: { type: 'text' },
  },
};
