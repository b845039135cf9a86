/** Wiring of API authentication, the audit API and per-agent NATS credentials (part of main). */
import { readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { adminServiceBinding } from './adapters/grpc/admin.js';
import { GrpcAuth } from './adapters/grpc/auth.js';
import type { GrpcServerSecurity, GrpcServiceBinding } from './adapters/grpc/server.js';
import { JwtCredentialIssuer } from './adapters/nats/auth/issuer.js';
import { connectNats } from './adapters/nats/connect.js';
import { PostgresApiTokenStore, PostgresAuditQuery, revokedAgentKeys } from './adapters/postgres/api-token-store.js';
import { PostgresAuditLog } from './adapters/postgres/audit-store.js';
import type { Db } from './adapters/postgres/db.js';
import type { Config } from './config.js';
import { ConfigError } from './domain/errors.js';
import type { AgentCredentialIssuer } from './fleet/credentials.js';
import { ApiTokenService } from './security/api-tokens.js';

export interface SecurityWiring {
  /** Pass to startGrpcServer: wraps every service with authentication and role checks; TLS. */
  grpc: GrpcServerSecurity;
  /** Pass to startHttpServer: HTTPS when `http.tls` is set. */
  http: { tls?: { certPem: Buffer; keyPem: Buffer } };
  admin: GrpcServiceBinding;
  /** Per-agent NATS credentials when `nats.auth.accountSeedFile` is set. */
  credentials: AgentCredentialIssuer | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createSecurityWiring(deps: {
  config: Readonly<Config>;
  db: Db;
  log: Logger;
  metrics: Registry;
}): SecurityWiring {
  const { config, db } = deps;
  const log = deps.log.child({ component: 'security' });
  const failures = new Counter({
    name: 'mw_auth_failures_total',
    help: 'API calls refused by authentication or role checks, by reason',
    labelNames: ['reason'],
    registers: [deps.metrics],
  });
  const malformed = new Counter({
    name: 'mw_grpc_malformed_requests_total',
    help: 'gRPC requests that did not decode, answered INVALID_ARGUMENT, by method',
    labelNames: ['method'],
    registers: [deps.metrics],
  });
  const tokens = new ApiTokenService({ store: new PostgresApiTokenStore({ db }), now: Date.now });
  const auth = new GrpcAuth({
    authenticate: (secret) => tokens.authenticate(secret),
    disabled: config.auth.disabled,
    log: deps.log.child({ component: 'grpc.auth' }),
    onFailure: (reason) => failures.inc({ reason }),
    audit: new PostgresAuditLog({ db }),
    onMalformed: (method) => malformed.inc({ method }),
  });
  const nats = natsIssuer(config, db, log);
  return {
    grpc: { wrap: (b) => auth.wrapService(b), ...grpcTls(config) },
    http: httpTls(config),
    admin: adminServiceBinding({
      tokens,
      audit: new PostgresAuditQuery({ db }),
      log: deps.log.child({ component: 'grpc' }),
    }),
    credentials: nats?.issuer,
    async start() {
      if (config.auth.disabled) log.warn('auth.disabled: every API caller is an admin (development only)');
      warnPlaintext(config, log);
      await bootstrapAdmin(config, tokens, log);
      await nats?.start();
    },
    async stop() {
      await nats?.stop();
    },
  };
}

function read(key: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${key}: cannot read ${file}: ${(err as Error).message}`]);
  }
}

async function bootstrapAdmin(config: Readonly<Config>, tokens: ApiTokenService, log: Logger): Promise<void> {
  const file = config.auth.bootstrapAdminTokenFile;
  if (!file) return;
  const created = await tokens.ensureBootstrapAdmin(read('auth.bootstrapAdminTokenFile', file).trim());
  log.info({ created }, 'auth.bootstrap_admin.ready');
}

function grpcTls(config: Readonly<Config>): Pick<GrpcServerSecurity, 'tls'> {
  const t = config.grpc.tls;
  if (!t.certFile || !t.keyFile) return {};
  const tls = {
    certPem: Buffer.from(read('grpc.tls.certFile', t.certFile)),
    keyPem: Buffer.from(read('grpc.tls.keyFile', t.keyFile)),
    ...(t.clientCaFile ? { clientCaPem: Buffer.from(read('grpc.tls.clientCaFile', t.clientCaFile)) } : {}),
  };
  return { tls };
}

function httpTls(config: Readonly<Config>): SecurityWiring['http'] {
  const t = config.http.tls;
  if (!t.certFile || !t.keyFile) return {};
  return {
    tls: {
      certPem: Buffer.from(read('http.tls.certFile', t.certFile)),
      keyPem: Buffer.from(read('http.tls.keyFile', t.keyFile)),
    },
  };
}

/**
 * API tokens cross these listeners: plaintext is fine on loopback or behind a TLS-terminating proxy
 * on the same host, and worth a warning anywhere else (docs/SECURITY.md, TLS).
 */
function warnPlaintext(config: Readonly<Config>, log: Logger): void {
  const loopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');
  if (!config.grpc.tls.certFile && !loopback(config.grpc.host))
    log.warn({ host: config.grpc.host }, 'grpc.plaintext: API tokens travel unencrypted (set grpc.tls)');
  if (!config.http.tls.certFile && !loopback(config.http.host))
    log.warn({ host: config.http.host }, 'http.plaintext: API tokens travel unencrypted (set http.tls)');
}

/** The JWT issuer with its system-account connection; undefined while decentralised auth is off. */
function natsIssuer(config: Readonly<Config>, db: Db, log: Logger) {
  const a = config.nats.auth;
  if (!a.accountSeedFile) return undefined;
  let sys: NatsConnection | undefined;
  const issuer = new JwtCredentialIssuer({
    account: JwtCredentialIssuer.keyPair(read('nats.auth.accountSeedFile', a.accountSeedFile)),
    ...(a.operatorSeedFile
      ? { operator: JwtCredentialIssuer.keyPair(read('nats.auth.operatorSeedFile', a.operatorSeedFile)) }
      : {}),
    system: () => sys,
    revoked: () => revokedAgentKeys(db),
    ...(a.preloadFile ? { preloadFile: a.preloadFile } : {}),
    limits: { maxConsumers: a.maxConsumers },
    log,
    now: Date.now,
  });
  const sync = (reason: string) =>
    issuer.publishRevocations(reason).catch((err: unknown) => log.error({ err, reason }, 'nats.account.update_failed'));
  return {
    issuer,
    async start() {
      if (a.systemCredsFile) {
        sys = await connectNats({
          url: config.nats.url,
          credsFile: a.systemCredsFile,
          name: `cp-sys-${config.replicaId}`,
          tls: config.nats.tls,
        });
        void watchReconnects(sys, () => void sync('reconnect'));
      }
      await sync('start');
    },
    async stop() {
      await sys?.close();
    },
  };
}

/** A restarted server with a MEMORY resolver has forgotten pushed updates: push again after each reconnect. */
async function watchReconnects(nc: NatsConnection, onReconnect: () => void): Promise<void> {
  for await (const s of nc.status()) if (s.type === 'reconnect') onReconnect();
}
