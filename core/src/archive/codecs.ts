/**
 * The compressor and decompressor stream of each archive format.
 */
import { PassThrough, type Transform } from 'node:stream';
import { createDeflate, createGunzip, createGzip, createInflate, createZstdCompress, createZstdDecompress, constants } from 'node:zlib';
import type { Compression } from '@cedana-ts/sdk';
import { Lz4Compress, Lz4Decompress } from './lz4-stream';

type ArchiveFormat = Exclude<Compression, 'none'>;

/** A fresh compressing stream for `format`. Levels favour speed: checkpoints are on the critical path. */
export function compressor(format: ArchiveFormat): Transform {
  switch (format) {
    case 'tar':
      return new PassThrough();
    case 'gzip':
      return createGzip({ level: constants.Z_BEST_SPEED });
    case 'zlib':
      return createDeflate({ level: constants.Z_BEST_SPEED });
    case 'lz4':
      return new Lz4Compress();
    case 'zstd':
      // Level 1 and a frame checksum: a corrupted archive fails to decompress instead of restoring wrong pages.
      return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 1, [constants.ZSTD_c_checksumFlag]: 1 } });
  }
}

/** A fresh decompressing stream for `format`. */
export function decompressor(format: ArchiveFormat): Transform {
  switch (format) {
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
