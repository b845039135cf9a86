import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { PROTO_DIR } from '@millwright/proto';
import { HealthImplementation } from 'grpc-health-check';

export interface GrpcServerHandle {
  port: number;
  health: HealthImplementation;
  stop(): Promise<void>;
}

export interface GrpcServiceBinding {
  /** Full service name, e.g. millwright.v1.FleetService (health checks use it). */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/** Security options of the server (security issue). */
export interface GrpcServerSecurity {
  /**
   * Applied to every service at registration (the auth wrapper of adapters/grpc/auth.ts), so each
   * method of a service added later is authenticated and role-checked without its author doing anything.
   */
  wrap?: (binding: GrpcServiceBinding) => GrpcServiceBinding;
  /** TLS: PEM server certificate chain and key; with `clientCaPem`, client certificates are required. */
  tls?: { certPem: Buffer; keyPem: Buffer; clientCaPem?: Buffer };
}

/** Starts the gRPC server with our services, gRPC health checking and server reflection. */
export async function startGrpcServer(
  host: string,
  port: number,
  services: GrpcServiceBinding[],
  security: GrpcServerSecurity = {},
): Promise<GrpcServerHandle> {
  const server = new Server({ 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
  for (const s of services) {
    const bound = security.wrap ? security.wrap(s) : s;
    server.addService(bound.definition, bound.implementation);
  }
  const health = new HealthImplementation({
    '': 'SERVING',
    ...Object.fromEntries(services.map((s) => [s.name, 'SERVING'])),
  });
  health.addToServer(server);
  const protoDir = join(PROTO_DIR, 'millwright', 'v1');
  const files = readdirSync(protoDir)
    .filter((f) => f.endsWith('.proto'))
    .map((f) => join('millwright', 'v1', f));
  new ReflectionService(loadSync(files, { includeDirs: [PROTO_DIR] })).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(security.tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    health,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of services) health.setStatus(s.name, 'NOT_SERVING');
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

function serverCredentials(tls: GrpcServerSecurity['tls']): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.clientCaPem ?? null,
    [{ cert_chain: tls.certPem, private_key: tls.keyPem }],
    tls.clientCaPem !== undefined,
  );
}
