#!/usr/bin/env python3
"""Draws docs/performance.svg from bench/results.json: dump and restore time of each mode against raw CRIU."""
import json, os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
med = json.load(open(os.path.join(ROOT, "bench", "results.json")))["medians"]
rows = [("raw criu", med["raw_dump"], med["raw_restore"])]
for k in ["none", "lz4", "lz4x2", "zstd", "zstdx2", "gzip", "zlib"]:
    if f"dump_{k}" in med:
        rows.append((k.replace("x2", " ×2 streams"), med[f"dump_{k}"], med[f"restore_{k}"]))
top = max(max(d, r) for _, d, r in rows)
W, left, bar, gap = 760, 150, 12, 14
scale = (W - left - 90) / top
h = 50 + len(rows) * (2 * bar + gap)
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="12">',
       f'<text x="10" y="20" font-size="14">Checkpoint of a {med["mib"]:.0f} MiB python heap: median seconds of {med["reps"]:.0f} (dump, restore)</text>',
       f'<rect x="{W - 200}" y="30" width="10" height="10" fill="#3b6ea5"/><text x="{W - 185}" y="39">dump</text>',
       f'<rect x="{W - 130}" y="30" width="10" height="10" fill="#e0a030"/><text x="{W - 115}" y="39">restore</text>']
y = 50
for name, d, r in rows:
    out.append(f'<text x="10" y="{y + bar + 4}">{name}</text>')
    for i, (v, color) in enumerate([(d, "#3b6ea5"), (r, "#e0a030")]):
        yy = y + i * bar
        out.append(f'<rect x="{left}" y="{yy}" width="{v * scale:.1f}" height="{bar - 1}" fill="{color}"/>')
        out.append(f'<text x="{left + v * scale + 4:.1f}" y="{yy + bar - 2}">{v:.2f} s</text>')
    y += 2 * bar + gap
out.append("</svg>")
open(os.path.join(ROOT, "docs", "performance.svg"), "w").write("\n".join(out))
print("wrote docs/performance.svg")
