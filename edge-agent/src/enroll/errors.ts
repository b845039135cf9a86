import { ErrorCode, MillwrightError } from '../domain/errors.js';

/** The control plane refused the enrollment (bad or used-up token, id taken, ...). Exit code 3. */
export class EnrollmentRefusedError extends MillwrightError {
  constructor(readonly reason: string) {
    super(ErrorCode.PRECONDITION, `enrollment refused by the control plane: ${reason}`, { reason });
  }
}

/** The identity stored in dataDir belongs to another agent or site than the config names. Exit code 3. */
export class IdentityMismatchError extends MillwrightError {
  constructor(stored: { agentId: string; siteId: string }, configured: { agentId: string; siteId: string }) {
    super(
      ErrorCode.PRECONDITION,
      `dataDir holds the identity of ${stored.siteId}/${stored.agentId} but the config says ${configured.siteId}/${configured.agentId}`,
      { stored, configured },
    );
  }
}

/** Exit code of the agent when it cannot obtain or use its identity. */
export const ENROLL_EXIT_CODE = 3;

export function isEnrollmentError(err: unknown): err is EnrollmentRefusedError | IdentityMismatchError {
  return err instanceof EnrollmentRefusedError || err instanceof IdentityMismatchError;
}
