import { ErrorCode, MillwrightError } from '../domain/errors.js';
import type { CanaryStarter } from './ports.js';

/** Thrown by the canary port while no rollout controller is wired in. */
export class RolloutsUnavailableError extends MillwrightError {
  constructor() {
    super(ErrorCode.UNAVAILABLE, 'rollouts not available: no rollout controller is wired into this control plane', {
      what: 'rollouts',
    });
  }
}

/** The canary port until the rollout controller (control-plane/src/rollouts/) exists: always refuses. */
export class UnavailableCanaryStarter implements CanaryStarter {
  async start(): Promise<{ rolloutId: string }> {
    throw new RolloutsUnavailableError();
  }
}
