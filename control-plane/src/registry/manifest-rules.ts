import { InvalidArgumentError } from '../domain/errors.js';
import { checkModelName, checkVersion, MAX_DESCRIPTION_CHARS, type Manifest } from './domain.js';

/**
 * Checks what can be checked without the artifact: identity, inputs, self-test vectors. The
 * artifact itself is checked by running the edge runtime on it (ArtifactVerifier).
 * @throws InvalidArgumentError naming the first bad field (`manifest.self_test[2].inputs`).
 */
export function checkManifest(m: Manifest): void {
  checkModelName('manifest.model', m.model);
  checkVersion('manifest.version', m.version);
  checkInputs(m);
  checkSelfTest(m);
  if (!Number.isFinite(m.output.alertThreshold)) {
    throw new InvalidArgumentError('manifest.output.alert_threshold', 'must be finite');
  }
  if (m.description.length > MAX_DESCRIPTION_CHARS) {
    throw new InvalidArgumentError('manifest.description', `at most ${MAX_DESCRIPTION_CHARS} characters`);
  }
}

function checkInputs(m: Manifest): void {
  if (m.inputs.length === 0) throw new InvalidArgumentError('manifest.inputs', 'must list at least one feature');
  const seen = new Set<string>();
  for (const [i, f] of m.inputs.entries()) {
    if (!f.name) throw new InvalidArgumentError(`manifest.inputs[${i}].name`, 'required');
    if (seen.has(f.name)) throw new InvalidArgumentError(`manifest.inputs[${i}].name`, `duplicate feature ${f.name}`);
    seen.add(f.name);
  }
}

function checkSelfTest(m: Manifest): void {
  if (m.selfTest.length === 0) {
    throw new InvalidArgumentError(
      'manifest.self_test',
      'at least one vector is required: unverified models are refused',
    );
  }
  for (const [i, v] of m.selfTest.entries()) {
    const field = `manifest.self_test[${i}]`;
    if (v.inputs.length !== m.inputs.length) {
      throw new InvalidArgumentError(
        `${field}.inputs`,
        `has ${v.inputs.length} values, the manifest has ${m.inputs.length} inputs`,
      );
    }
    if (!Number.isFinite(v.expectedScore)) throw new InvalidArgumentError(`${field}.expected_score`, 'must be finite');
    if (!(Number.isFinite(v.tolerance) && v.tolerance >= 0)) {
      throw new InvalidArgumentError(`${field}.tolerance`, 'must be finite and >= 0');
    }
  }
}
