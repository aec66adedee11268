#!/bin/sh
# Writes a deterministic sample of e-commerce products as NDJSON (one object
# per line) to stdout, or to the file named as the first argument.
#
#   sh pipelines/data/make-products.sh pipelines/data/products.ndjson [COUNT]
#
# Same output on every machine: a Park-Miller generator in awk (exact in
# doubles), no awk rand(), no clock. Fields: id (int64, a few beyond 2^53),
# sku, name (some non-ASCII, one with a quote), brand {name, country}, price
# (double), tags [..], variants [{sku, color, stock}], created_at,
# updated_at (ISO 8601 UTC), discount (in about 10% of records), active.
set -eu

out=${1:--}
count=${2:-2000}

generate() {
    awk -v count="$count" '
    function next_random() { seed = (seed * 16807) % 2147483647; return seed }
    function pick(n) { return next_random() % n }
    function json_string(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    # Days since 1970-01-01 to a civil date (proleptic Gregorian).
    function iso_time(t,    days, secs, z, era, doe, yoe, y, doy, mp, d, m) {
        days = int(t / 86400); secs = t - days * 86400
        z = days + 719468; era = int(z / 146097); doe = z - era * 146097
        yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
        y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
        mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
        m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
        return sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, int(secs / 3600),
                       int(secs % 3600 / 60), secs % 60)
    }
    # Always with a fraction, so that every price decodes as a double.
    function price_text(cents) {
        if (cents % 10 != 0) return sprintf("%d.%02d", int(cents / 100), cents % 100)
        return sprintf("%d.%d", int(cents / 100), int(cents % 100 / 10))
    }
    BEGIN {
        seed = 20240601
        nb = split("Acme|Nordwind|Kōbō|Zürich Tools|Café Olé|Bharat|Северный|Lumen", brands, "|")
        split("US|DE|JP|CH|FR|IN|RU|SE", countries, "|")
        na = split("Compact|Classic|Ultra|Eco|Pro|Mini|Smart|Vintage|Étoile|Größe", adjectives, "|")
        nn = split("Kettle|Backpack|Headphones|Lamp|Desk|Sneakers|Blender|Watch|Tent|Mug|Chair|Speaker", nouns, "|")
        nc = split("red|blue|green|black|white|silver|sand|olive", colors, "|")
        nt = split("sale|new|eco|bestseller|gift|outdoor|kitchen|office|audio|travel", tags, "|")
        base = 1672531200   # 2023-01-01T00:00:00Z
        for (i = 1; i <= count; i++) {
            # A few ids past 2^53 (exact only as int64), the rest in order.
            if (i % 250 == 0) id = "90071992547" sprintf("%05d", 40993 + i)
            else if (i == 7) id = "9223372036854775807"
            else id = i
            sku = sprintf("SKU-%06d", i)
            b = pick(nb) + 1
            name = adjectives[pick(na) + 1] " " nouns[pick(nn) + 1]
            if (i % 97 == 0) name = name " 15\" edition"
            if (i % 131 == 0) name = name " — 限定版 🎁"
            line = "{\"id\":" id ",\"sku\":" json_string(sku) ",\"name\":" json_string(name)
            line = line ",\"brand\":{\"name\":" json_string(brands[b]) ",\"country\":\"" countries[b] "\"}"
            line = line ",\"price\":" price_text(199 + pick(49800))
            ntag = pick(4); line = line ",\"tags\":["
            for (k = 0; k < ntag; k++) line = line (k ? "," : "") "\"" tags[(i + k * 3) % nt + 1] "\""
            nvar = 1 + pick(3); line = line "],\"variants\":["
            for (k = 0; k < nvar; k++) {
                color = colors[(i + k) % nc + 1]
                line = line (k ? "," : "") "{\"sku\":\"" sku "-" toupper(color) "\",\"color\":\"" color "\",\"stock\":" pick(500) "}"
            }
            created = base + i * 3600 * 3 + pick(3600)
            updated = created + pick(86400 * 90)
            line = line "],\"created_at\":\"" iso_time(created) "\",\"updated_at\":\"" iso_time(updated) "\""
            if (pick(10) == 0) line = line ",\"discount\":" sprintf("0.%02d", 5 + pick(45))
            line = line ",\"active\":" (pick(7) == 0 ? "false" : "true") "}"
            print line
        }
    }'
}

if [ "$out" = - ]; then
    generate
else
    generate >"$out.tmp.$$" && mv "$out.tmp.$$" "$out"
fi
