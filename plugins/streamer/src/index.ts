/**
 * The streamer plugin: checkpoints written as N shards compressed by N worker threads and moved through N
 * uploads at once (`cedana dump --streams N`), and read back the same way on restore.
 * @packageDocumentation
 */
import { definePlugin, Feature, type Streamer } from '@cedana-ts/sdk';
import { readShards } from './read';
import { writeShards } from './write';

export { piecesOf, splitRanges } from './layout';
export { MAX_STREAMS } from './write';

/** The streamer itself, usable without a plugin host (tests, tools). */
export const streamer: Streamer = { write: writeShards, read: readShards };

export default definePlugin({
  async init() {
    return { features: [Feature.Streams], streamer };
  },
});
