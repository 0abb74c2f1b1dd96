/**
 * The compressing and decompressing stream of each compression, as the worker threads use them on a shard.
 */
import { PassThrough, type Transform } from 'node:stream';
import { constants, createDeflate, createGunzip, createGzip, createInflate, createZstdCompress, createZstdDecompress } from 'node:zlib';
import type { Compression } from '@cedana-ts/sdk';
import { Lz4FrameCompress, Lz4FrameDecompress } from './lz4-frames';

/** A compressor for one shard. Levels favour speed: the process is frozen until its pages are written. */
export function shardCompressor(compression: Compression): Transform {
  switch (compression) {
    case 'none':
    case 'tar':
      return new PassThrough();
    case 'gzip':
      return createGzip({ level: constants.Z_BEST_SPEED });
    case 'zlib':
      return createDeflate({ level: constants.Z_BEST_SPEED });
    case 'lz4':
      return new Lz4FrameCompress();
    case 'zstd':
      return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 1, [constants.ZSTD_c_checksumFlag]: 1 } });
  }
}

/** A decompressor for one shard. */
export function shardDecompressor(compression: Compression): Transform {
  switch (compression) {
    case 'none':
    case 'tar':
      return new PassThrough();
    case 'gzip':
      return createGunzip();
    case 'zlib':
      return createInflate();
    case 'lz4':
      return new Lz4FrameDecompress();
    case 'zstd':
      return createZstdDecompress();
  }
}
