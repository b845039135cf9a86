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

/** Starts the gRPC server with our services, gRPC health checking and server reflection. */
export async function startGrpcServer(
  host: string,
  port: number,
  services: GrpcServiceBinding[],
): Promise<GrpcServerHandle> {
  const server = new Server({ 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
  for (const s of services) server.addService(s.definition, s.implementation);
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
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
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
