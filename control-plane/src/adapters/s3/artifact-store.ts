import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ArtifactStore, ArtifactUpload } from '../../registry/ports.js';

/** S3's minimum part size; with queueSize 2 an upload buffers at most ~10 MiB beyond what it has sent. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;

/** Artifacts in one S3 bucket (AWS S3, MinIO or any S3-compatible store). */
export class S3ArtifactStore implements ArtifactStore {
  private bucketReady: Promise<void> | undefined;

  constructor(private readonly deps: { client: S3Client; bucket: string }) {}

  /** Creates the bucket when it is missing; remembered once it succeeds, retried after a failure. */
  ensureBucket(signal?: AbortSignal): Promise<void> {
    this.bucketReady ??= this.createBucket(signal).catch((err: unknown) => {
      this.bucketReady = undefined;
      throw err;
    });
    return this.bucketReady;
  }

  startUpload(key: string, signal?: AbortSignal): ArtifactUpload {
    return new S3Upload(this.deps.client, this.deps.bucket, key, this.ensureBucket(signal));
  }

  async copy(from: string, to: string, signal?: AbortSignal): Promise<void> {
    const source = `${this.deps.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    await this.deps.client.send(new CopyObjectCommand({ Bucket: this.deps.bucket, Key: to, CopySource: source }), {
      abortSignal: signal,
    });
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.deps.client.send(new DeleteObjectCommand({ Bucket: this.deps.bucket, Key: key }), {
      abortSignal: signal,
    });
  }

  presignGet(key: string, ttlS: number): Promise<string> {
    return getSignedUrl(this.deps.client, new GetObjectCommand({ Bucket: this.deps.bucket, Key: key }), {
      expiresIn: ttlS,
    });
  }

  private async createBucket(signal?: AbortSignal): Promise<void> {
    const { client, bucket } = this.deps;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
      return;
    } catch (err) {
      if (!(err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) throw err;
    }
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    } catch (err) {
      // Another replica created it in between.
      if (!(err instanceof S3ServiceException && err.name === 'BucketAlreadyOwnedByYou')) throw err;
    }
  }
}

/** Bytes written here stream into a multipart upload (one PutObject when under a part). */
class S3Upload implements ArtifactUpload {
  private readonly body = new PassThrough({ highWaterMark: PART_SIZE });
  private readonly upload: Upload;
  /** Settles with the upload's error, or undefined on success; never rejects (no unhandled rejection). */
  private readonly result: Promise<Error | undefined>;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    ready: Promise<void>,
  ) {
    this.upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: this.body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    this.result = ready
      .then(() => this.upload.done())
      .then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.body.write(chunk)) return;
    const failed = await Promise.race([once(this.body, 'drain').then(() => undefined), this.result]);
    if (failed) throw failed;
  }

  async complete(): Promise<void> {
    this.body.end();
    const failed = await this.result;
    if (failed) throw failed;
  }

  async abort(): Promise<void> {
    await this.upload.abort();
    this.body.destroy();
    await this.result;
    // A single-part upload may already have written its object.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key }));
  }
}
