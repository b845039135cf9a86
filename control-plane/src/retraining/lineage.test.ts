import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../domain/errors.js';
import type { Manifest } from '../registry/domain.js';
import type { RetrainingRequest } from './domain.js';
import { assertLineage } from './service.js';

const req = { id: 'r1', snapshotId: 's1', baseVersion: 'v1' } as RetrainingRequest;
const version = (lineage: Partial<Manifest['lineage']>) => ({
  model: 'press',
  version: 'v2',
  manifest: {
    lineage: {
      parentVersion: 'v1',
      datasetSnapshotId: 's1',
      retrainingRequestId: 'r1',
      trainingRunUrl: '',
      ...lineage,
    },
  } as Manifest,
});

describe('assertLineage', () => {
  it('accepts a version whose lineage names the request, its snapshot and its base', () => {
    expect(() => assertLineage(req, version({}))).not.toThrow();
  });

  it.each([
    ['retraining_request_id', { retrainingRequestId: 'other' }],
    ['dataset_snapshot_id', { datasetSnapshotId: 's2' }],
    ['parent_version', { parentVersion: 'v0' }],
  ])('refuses a version whose lineage.%s differs', (field, lineage) => {
    try {
      assertLineage(req, version(lineage));
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: ErrorCode.PRECONDITION, details: { field: `lineage.${field}` } });
    }
  });
});
