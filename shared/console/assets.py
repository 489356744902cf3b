"""The console's vendored assets, each with its version and its Subresource Integrity hash.

htmx comes from the npm registry (`npm pack htmx.org@2.0.11`, dist/htmx.min.js, Zero-Clause BSD),
committed as is: no build step and no CDN. tests/console checks the file against the hash."""

HTMX_VERSION = "2.0.11"
HTMX = {
    "file": f"htmx-{HTMX_VERSION}.min.js",
    "integrity": "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg",
}
