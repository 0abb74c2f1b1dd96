/**
 * The job log of a Docker container: Docker keeps the container's output itself (its log driver); the daemon
 * follows it (`GET /containers/{id}/logs?follow=1`) and appends it to the job's log file while the container
 * runs. After a restore it follows again from the moment of the restore, so nothing is written twice.
 */
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Logger } from '@cedana-ts/sdk';
import type { Engine } from './engine';

/**
 * Splits Docker's multiplexed log stream (an 8-byte header per frame: stream type, 3 zero bytes, big-endian
 * payload size) into payloads. Keeps a partial frame until its end arrives.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** The payloads completed by `chunk`. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      out.push(this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
    }
    return out;
  }
}

/**
 * Appends the output of container `id` since `sinceSeconds` (a Unix time, fractional) to `logPath` until the
 * container stops. `tty`: the container has a terminal, so its stream is raw rather than multiplexed.
 */
export async function followLogs(engine: Engine, id: string, logPath: string, sinceSeconds: number, tty: boolean, logger: Logger): Promise<void> {
  if (!logPath) return;
  const res = await engine.open('GET', `/containers/${id}/logs?follow=1&stdout=1&stderr=1&since=${sinceSeconds.toFixed(6)}`);
  if (res.statusCode !== 200) {
    res.resume();
    logger.warn(`cannot follow the logs of container ${id}: HTTP ${res.statusCode}`);
    return;
  }
  const file = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
  const decoder = new FrameDecoder();
  (res as Readable).on('data', (chunk: Buffer) => {
    for (const payload of tty ? [chunk] : decoder.push(chunk)) file.write(payload);
  });
  let ended = false;
  const end = () => {
    if (!ended) file.end();
    ended = true;
  };
  res.once('end', end);
  res.once('close', end);
  res.once('error', (err) => {
    logger.debug(`stopped following the logs of container ${id}: ${err.message}`);
    end();
  });
}
