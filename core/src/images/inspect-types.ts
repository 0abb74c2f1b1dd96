/** What `cedana job checkpoint inspect --type` selects: Cedana's names (kept apart so the CLI reads them cheaply). */
export const INSPECT_TYPES = ['ps', 'fd', 'mem', 'rss', 'sk'] as const;
export type InspectType = (typeof INSPECT_TYPES)[number];
