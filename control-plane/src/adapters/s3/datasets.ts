import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DatasetBlobStore } from '../../retraining/ports.js';

/** Dataset parts (`datasets/…`) and snapshot manifests (`snapshots/<id>.json`) in the bucket. */
export class S3DatasetStore implements DatasetBlobStore {
  constructor(private readonly deps: { client: S3Client; bucket: string; timeoutMs?: number }) {}

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.deps.client.send(
      new PutObjectCommand({
        Bucket: this.deps.bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: contentType,
      }),
      { abortSignal: AbortSignal.timeout(this.deps.timeoutMs ?? 30_000) },
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.deps.client.send(new GetObjectCommand({ Bucket: this.deps.bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(this.deps.timeoutMs ?? 30_000),
      });
      return res.Body ? await res.Body.transformToByteArray() : undefined;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }
}
