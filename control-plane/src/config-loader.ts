/**
 * Both binaries load config by the same rules (YAML file, `MW_` variables derived from key paths,
 * `*_FILE` secrets), so the control plane uses the agent's loader rather than a copy (ADR 0001
 * covers the dependency on @millwright/edge-agent).
 */
export { type ConfigSources, envName, envVarNames, loadConfigWith } from '@millwright/edge-agent/config-loader.js';
