import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../domain/errors.js';
import { defaultArtifact, defaultIndicatorConfig } from './defaults.js';
import { PRONOSTIA } from './geometry.js';
import { buildManifest, MANIFEST_FILE_RUNTIME, parseManifestFile } from './manifest.js';
import { loadBearingHealth } from './model.js';
import { writeModel } from './train.js';

const ARTIFACT = defaultArtifact({
  channels: ['horizontal_acc', 'vertical_acc'],
  shaftHz: 25,
  indicators: defaultIndicatorConfig(25_600, 2560, PRONOSTIA),
});

describe('the manifest file the pack writes', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('names the runtime by the registry’s enum and reads back into a manifest the agent loads', () => {
    dir = mkdtempSync(join(tmpdir(), 'mw-pack-'));
    const manifest = buildManifest(ARTIFACT, { model: 'bearing-pack', version: '1.0.0', sequence: 1 });
    writeModel(dir, ARTIFACT, manifest);
    const text = readFileSync(join(dir, 'manifest.json'), 'utf8');
    expect(JSON.parse(text).runtime).toBe(MANIFEST_FILE_RUNTIME);
    expect(MANIFEST_FILE_RUNTIME).toBe('MODEL_RUNTIME_BEARING_HEALTH');
    const read = parseManifestFile(text);
    expect(read).toEqual(manifest);
    const model = loadBearingHealth(read, readFileSync(join(dir, 'artifact.json')));
    expect(model.selfTest(read.selfTest).passed).toBe(true);
  });

  it('reads files that still name the agent’s runtime, and refuses other runtimes', () => {
    const manifest = buildManifest(ARTIFACT, { model: 'bearing-pack', version: '1.0.0', sequence: 1 });
    expect(parseManifestFile(JSON.stringify(manifest))).toEqual(manifest);
    const linear = JSON.stringify({ ...manifest, runtime: 'MODEL_RUNTIME_LINEAR' });
    expect(() => parseManifestFile(linear)).toThrow(ModelLoadError);
    expect(() => parseManifestFile('{')).toThrow(ModelLoadError);
  });
});
