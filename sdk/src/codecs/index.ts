/**
 * The compressing and decompressing stream of each compression a checkpoint can use. The core's archives and a
 * streamer's shards use these same streams, so what one writes the other reads.
 * @packageDocumentation
 */
import { PassThrough, type Transform } from 'node:stream';
import { createDeflate, createGunzip, createGzip, createInflate, createZstdCompress, createZstdDecompress, constants } from 'node:zlib';
import type { Compression } from '../checkpoint';
import { Lz4Compress, Lz4Decompress } from './lz4-frames';

export { Lz4Compress, Lz4Decompress, frameLength } from './lz4-frames';

/** A fresh compressing stream for `compression`. Levels favour speed: checkpoints are on the critical path. */
export function compressor(compression: Compression): Transform {
  switch (compression) {
    case 'none':
    case 'tar':
      return new PassThrough();
    case 'gzip':
      return createGzip({ level: constants.Z_BEST_SPEED });
    case 'zlib':
      return createDeflate({ level: constants.Z_BEST_SPEED });
    case 'lz4':
      return new Lz4Compress();
    case 'zstd':
      // Level 1 and a frame checksum: corrupted data fails to decompress instead of restoring wrong pages.
      return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 1, [constants.ZSTD_c_checksumFlag]: 1 } });
  }
}

/** A fresh decompressing stream for `compression`. */
export function decompressor(compression: Compression): Transform {
  switch (compression) {
    case 'none':
    case 'tar':
      return new PassThrough();
    case 'gzip':
      return createGunzip();
    case 'zlib':
      return createInflate();
    case 'lz4':
      return new Lz4Decompress();
    case 'zstd':
      return createZstdDecompress();
  }
}
