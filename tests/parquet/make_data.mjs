// Writes the NDJSON input of tests/integration/parquet.sh: N records that
// cover every type the Parquet writer handles, with nulls everywhere, empty
// strings and lists, unicode, the int64 extremes, deep nesting, a column
// that first appears late and one that is null before it gets a type.
//
//   node tests/parquet/make_data.mjs COUNT > data.ndjson
//
// Deterministic (a fixed LCG), so a failure can be reproduced.
const count = Number(process.argv[2] ?? 3000);
let seed = 12345n;
function rand(n) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return Number((seed >> 33n) % BigInt(n));
}
const words = ['', 'a', 'kettle', 'Café Lumière', 'Ōtsuka', '日本語テキスト', 'emoji 🎉🚀',
    'quote " and \\ backslash', 'tab\there', 'line\nbreak', 'Müller & Söhne', 'x'.repeat(300)];
const int64s = ['9223372036854775807', '-9223372036854775808', '0', '-1', '9007199254740993',
    '-9007199254740993', '1', '4611686018427387904'];
const doubles = ['0.1', '-0.0', '1e308', '-1.7976931348623157e308', '5e-324', '3.141592653589793',
    '2.5', '-123456.789'];
const pick = (list) => list[rand(list.length)];
const maybe = (p, value) => (rand(100) < p ? 'null' : value);
const str = (s) => JSON.stringify(s);

for (let i = 0; i < count; i++) {
    const fields = [];
    fields.push(`"n":${i}`);
    fields.push(`"big":${maybe(15, pick(int64s))}`);
    fields.push(`"small":${maybe(15, String(rand(2000) - 1000))}`);
    fields.push(`"real":${maybe(15, pick(doubles))}`);
    fields.push(`"flag":${maybe(15, rand(2) ? 'true' : 'false')}`);
    fields.push(`"text":${maybe(15, str(pick(words)))}`);
    fields.push(`"category":${maybe(10, str(['red', 'green', 'blue'][rand(3)]))}`);
    fields.push(`"ts":${maybe(15, str(new Date(Date.UTC(1969 + rand(80), rand(12), 1 + rand(28),
        rand(24), rand(60), rand(60))).toISOString().replace('.000Z', '.' + String(rand(1000000)).padStart(6, '0') + 'Z')))}`);
    fields.push(`"day":${maybe(15, str(`${1900 + rand(200)}-${String(1 + rand(12)).padStart(2, '0')}-${String(1 + rand(28)).padStart(2, '0')}`))}`);
    fields.push(`"amount":${maybe(15, str(`${rand(2) ? '-' : ''}${rand(100000000)}.${String(rand(100)).padStart(2, '0')}`))}`);
    const tags = [];
    for (let t = rand(5); t > 0; t--) tags.push(maybe(10, str(pick(words))));
    fields.push(`"tags":${maybe(10, `[${tags.join(',')}]`)}`);
    const matrix = [];
    for (let r = rand(4); r > 0; r--) {
        const row = [];
        for (let c = rand(4); c > 0; c--) row.push(maybe(10, String(rand(100))));
        matrix.push(maybe(10, `[${row.join(',')}]`));
    }
    fields.push(`"matrix":${maybe(10, `[${matrix.join(',')}]`)}`);
    const variants = [];
    for (let v = rand(4); v > 0; v--) {
        const sizes = [];
        for (let s = rand(3); s > 0; s--) sizes.push(String(rand(50)));
        variants.push(maybe(10, `{"sku":${maybe(10, str('SKU-' + rand(1e6)))},"stock":${maybe(10, String(rand(500)))},` +
            `"sizes":${maybe(10, `[${sizes.join(',')}]`)}}`));
    }
    fields.push(`"variants":${maybe(10, `[${variants.join(',')}]`)}`);
    fields.push(`"deep":${maybe(10, `{"a":${maybe(10, `{"b":${maybe(10, `{"c":${maybe(10, `{"d":${maybe(10, String(rand(1000)))},"e":${maybe(10, str(pick(words)))}}`)}}`)},"f":${maybe(10, 'true')}}`)}}`)}`);
    // Appears only from record 1500 on (a later batch): earlier rows read null.
    if (i >= 1500) fields.push(`"late":${maybe(20, str('late-' + i))}`);
    // Null in the first 1200 records, then numbers: the writer learns its type late.
    fields.push(`"sparse":${i < 1200 ? 'null' : maybe(50, String(rand(1000)))}`);
    console.log(`{${fields.join(',')}}`);
}
