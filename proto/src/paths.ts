import { fileURLToPath } from 'node:url';

/** Directory holding `millwright/v1/*.proto`, for gRPC reflection. */
export const PROTO_DIR = fileURLToPath(new URL('../', import.meta.url));
