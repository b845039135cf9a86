import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SampleBlobStore } from '../../ingest/ports.js';

/** The `s3` config slice the sample store needs. */
export interface SampleS3Options {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
}

/**
 * An S3 client for S3-compatible servers. Checksums only when required: with the SDK's default
 * checksums a streamed PutObject was stored with its aws-chunked framing in s3rver (TOOLCHAIN.md).
 */
export function createS3Client(o: SampleS3Options): S3Client {
  return new S3Client({
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.accessKeyId && o.secretAccessKey
      ? { credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } }
      : {}),
  });
}

/** Captured samples' raw bytes in S3 under `datasets/…` (the key comes from the ingest use case). */
export class S3SampleStore implements SampleBlobStore {
  constructor(private readonly deps: { client: S3Client; bucket: string; timeoutMs?: number }) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.deps.client.send(
      new PutObjectCommand({
        Bucket: this.deps.bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: 'application/octet-stream',
      }),
      { abortSignal: AbortSignal.timeout(this.deps.timeoutMs ?? 30_000) },
    );
  }
}
