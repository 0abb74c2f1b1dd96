/**
 * The feature matrix: rows are features, columns are plugins, computed from what each loaded plugin returned at
 * init (`features`, a storage's `schemes`) — never from a table kept by hand. A plugin that is not usable here
 * shows the features its manifest declares (`provides`) as unavailable.
 */
import { Feature, pluginAddress } from '@cedana-ts/sdk';
import type { PluginRecord } from './host';

/** `available`: works here; `unavailable`: declared, but not usable here; empty: not provided. */
export type FeatureCell = 'available' | 'unavailable' | '';

export interface FeatureColumn {
  name: string;
  address: string;
  version: string;
  status: PluginRecord['status'];
  reason: string;
}

export interface FeatureRow {
  /** A feature name (`dump`, `gpu`, …) or `storage:<scheme>`. */
  feature: string;
  /** One cell per column, in column order. */
  cells: FeatureCell[];
}

export interface FeatureMatrix {
  columns: FeatureColumn[];
  rows: FeatureRow[];
}

export function featureMatrix(records: readonly PluginRecord[]): FeatureMatrix {
  const columns = records.map((r) => ({
    name: r.name,
    address: r.manifest ? pluginAddress(r.manifest) : '',
    version: r.manifest?.version ?? '',
    status: r.status,
    reason: r.reason ?? '',
  }));
  // What init returned: its feature list, and the storage or GPU service it handed over.
  const provided = records.map((r) => {
    const set = new Set<string>(r.status === 'ok' ? (r.instance?.features ?? []) : []);
    if (r.status === 'ok' && r.instance?.storage) set.add(Feature.Storage);
    if (r.status === 'ok' && r.instance?.gpu) set.add(Feature.Gpu);
    return set;
  });
  const declared = records.map((r) => new Set<string>(r.manifest?.provides ?? []));
  const known: string[] = Object.values(Feature);
  const extra = new Set<string>();
  for (const set of [...provided, ...declared]) for (const f of set) if (!known.includes(f)) extra.add(f);

  const rows: FeatureRow[] = [...known, ...[...extra].sort()].map((feature) => ({
    feature,
    cells: records.map((_, i): FeatureCell => (provided[i].has(feature) ? 'available' : declared[i].has(feature) ? 'unavailable' : '')),
  }));
  const schemes = records.map((r) => (r.status === 'ok' ? [...(r.instance?.storage?.schemes ?? [])] : []));
  for (const scheme of [...new Set(schemes.flat())].sort()) {
    rows.push({ feature: `storage:${scheme}`, cells: schemes.map((list): FeatureCell => (list.includes(scheme) ? 'available' : '')) });
  }
  return { columns, rows };
}
