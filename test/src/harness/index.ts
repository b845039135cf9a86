export {
  BIN,
  type ControlPlaneProcess,
  HARNESS_ADMIN_TOKEN,
  launchAgent,
  type MwctlResult,
  mwctl,
  REPO_ROOT,
  spawnAgent,
  spawnControlPlane,
} from './millwright.js';
export { NatsServer, type NatsServerOptions, type NatsTlsOptions } from './nats.js';
export { freePort } from './ports.js';
export { PostgresServer, type PostgresServerOptions } from './postgres.js';
export { ManagedProcess, type ProcessOptions, sleep, waitFor } from './process.js';
export { type S3Endpoint, S3Server, type S3ServerOptions } from './s3.js';
