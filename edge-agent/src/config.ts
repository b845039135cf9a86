import { z } from 'zod';
import { type ConfigSources, loadConfigWith } from './config-loader.js';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'letters, digits, _ and - only (max 63)');

export const AgentConfigSchema = z.object({
  agentId: id,
  siteId: id,
  lineId: z.string().default(''),
  labels: z.record(z.string(), z.string()).default({}),
  /** Everything the agent needs to restart offline lives here (buffer, last good model, cursors). */
  dataDir: z.string().min(1).default('/var/lib/millwright'),
  log: z
    .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  nats: z
    .object({
      url: z.string().min(1).default('nats://127.0.0.1:4222'),
      /** The agent's own NATS user credentials, issued at enrollment. */
      credsFile: z.string().optional(),
    })
    .prefault({}),
  heartbeat: z.object({ intervalS: z.number().positive().max(3600).default(5) }).prefault({}),
  http: z
    .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9100) })
    .prefault({}),
});

export type AgentConfig = z.output<typeof AgentConfigSchema>;

/** Pure: builds the frozen agent config from a YAML file text and `MW_` environment variables. */
export function loadAgentConfig(src: ConfigSources): Readonly<AgentConfig> {
  return loadConfigWith(AgentConfigSchema, src);
}
