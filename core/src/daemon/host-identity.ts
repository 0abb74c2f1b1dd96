/**
 * This daemon's identity among those that share a job database: `host.id` (else /etc/machine-id, else the
 * hostname) and `host.name` (else the hostname). Two daemons on one machine are two hosts when their configs
 * give them different IDs.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Config } from '../config/schema';

export interface HostIdentity {
  id: string;
  name: string;
}

function machineId(): string | undefined {
  try {
    const id = readFileSync('/etc/machine-id', 'utf8').trim();
    return /^[0-9a-f]{16,}$/i.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

export function hostIdentity(config: Pick<Config, 'host'>): HostIdentity {
  return { id: config.host.id || machineId() || hostname(), name: config.host.name || hostname() };
}
