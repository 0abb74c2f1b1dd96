/**
 * Text output of the CLI: borderless tables like Cedana's, relative times, binary sizes.
 */

/** `644 KiB`, `12 MiB`; empty for zero. */
export function formatSize(bytes: number): string {
  if (!(bytes > 0)) return '';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(0)} ${units[i]}`;
}

/** `2 seconds ago`, `about a minute ago`, `3 days ago`. */
export function timeAgo(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (s < 2) return 'about a second ago';
  if (s < 60) return plural(s, 'second');
  if (s < 120) return 'about a minute ago';
  if (s < 3600) return plural(Math.floor(s / 60), 'minute');
  if (s < 7200) return 'about an hour ago';
  if (s < 86400) return plural(Math.floor(s / 3600), 'hour');
  if (s < 172800) return 'one day ago';
  return plural(Math.floor(s / 86400), 'day');
}

/** `2026-11-22 10:04:05` in local time. */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A table without borders: upper-case headers, two spaces between columns, some columns right-aligned. */
export function table(headers: string[], rows: string[][], rightAligned: string[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.includes(headers[i]) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** A scalar as YAML: strings that YAML would read as something else (or that hold `: `, `#`…) are quoted. */
function yamlScalar(v: unknown): string {
  if (typeof v !== 'string') return String(v);
  const plain = /^[^\s\-?:,\[\]{}#&*!|>'"%@`][^\n]*$/.test(v) && !/: |\s#|\s$/.test(v) && !/^(true|false|yes|no|on|off|null|~|[-+]?(\d[\d_]*(\.\d*)?|\.\d+)(e[-+]?\d+)?)$/i.test(v);
  return plain ? v : JSON.stringify(v);
}

/** `key: value` lines, nested objects indented: a YAML document (arrays in flow style), as Cedana prints. */
export function keyValues(obj: Record<string, unknown>, indent = ''): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === '') continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`${indent}${k}:`, keyValues(v as Record<string, unknown>, `${indent}  `));
    } else if (Array.isArray(v)) {
      lines.push(`${indent}${k}: ${JSON.stringify(v)}`);
    } else {
      lines.push(`${indent}${k}: ${yamlScalar(v)}`);
    }
  }
  return lines.filter(Boolean).join('\n');
}
