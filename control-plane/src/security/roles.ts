/**
 * API roles and the one table of the minimum role per RPC. Roles are ordered: every role can do
 * what the roles below it can (admin > platform > trainer > viewer).
 */
export const ROLES = ['viewer', 'trainer', 'platform', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/** True when `have` is at least `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/**
 * Minimum role per method, keyed `Service/Method` (the gRPC path without package and slashes at the
 * ends). A method missing here is denied to everyone: a new RPC must be classified before it works.
 * Reads are `viewer`; registering models and handling retraining requests is `trainer`; moving
 * models to machines (aliases, rollouts) and the fleet's write side is `platform`; API tokens,
 * bootstrap tokens (they admit machines) and the audit log are `admin`.
 */
export const METHOD_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  'AdminService/WhoAmI': 'viewer',
  'AdminService/CreateApiToken': 'admin',
  'AdminService/ListApiTokens': 'admin',
  'AdminService/RevokeApiToken': 'admin',
  'AdminService/ListAuditEvents': 'admin',

  'FleetService/ListAgents': 'viewer',
  'FleetService/GetAgent': 'viewer',
  'FleetService/GetAgentHistory': 'viewer',
  'FleetService/ListSites': 'viewer',
  'FleetService/GetSite': 'viewer',
  'FleetService/DecommissionAgent': 'platform',
  'FleetService/SetAgentPinned': 'platform',
  'FleetService/CreateSite': 'platform',
  'FleetService/UpdateSite': 'platform',
  'FleetService/StopAllRollouts': 'platform',
  'FleetService/CreateBootstrapToken': 'admin',
  'FleetService/RevokeBootstrapToken': 'admin',

  'ModelRegistryService/GetModel': 'viewer',
  'ModelRegistryService/ListModels': 'viewer',
  'ModelRegistryService/GetVersion': 'viewer',
  'ModelRegistryService/ListVersions': 'viewer',
  'ModelRegistryService/ListAliasHistory': 'viewer',
  'ModelRegistryService/ListTrustKeys': 'viewer',
  // A presigned URL hands out the artifact itself: trainers and up.
  'ModelRegistryService/GetArtifactUrl': 'trainer',
  'ModelRegistryService/CreateModel': 'trainer',
  'ModelRegistryService/UploadVersion': 'trainer',
  'ModelRegistryService/SetAlias': 'platform',
  // Signing keys decide what every agent will run: admins only.
  'ModelRegistryService/RotateSigningKey': 'admin',
  'ModelRegistryService/RevokeSigningKey': 'admin',

  'RolloutService/Plan': 'viewer',
  'RolloutService/List': 'viewer',
  'RolloutService/Get': 'viewer',
  'RolloutService/Watch': 'viewer',
  'RolloutService/Start': 'platform',
  'RolloutService/Pause': 'platform',
  'RolloutService/Resume': 'platform',
  'RolloutService/Promote': 'platform',
  'RolloutService/Abort': 'platform',
  'RolloutService/Rollback': 'platform',

  'RetrainingService/GetSnapshot': 'viewer',
  'RetrainingService/GetDrift': 'viewer',
  'RetrainingService/ListRequests': 'viewer',
  'RetrainingService/GetPolicy': 'viewer',
  'RetrainingService/AddLabel': 'trainer',
  'RetrainingService/SetPolicy': 'platform',
  'RetrainingService/CreateSnapshot': 'trainer',
  'RetrainingService/Claim': 'trainer',
  'RetrainingService/ReportProgress': 'trainer',
  'RetrainingService/Complete': 'trainer',
  'RetrainingService/Fail': 'trainer',
  'RetrainingService/RequestRetraining': 'platform',
});

/** `/millwright.v1.FleetService/ListAgents` -> `FleetService/ListAgents`. */
export function methodKey(path: string): string {
  const [service = '', method = ''] = path.replace(/^\//, '').split('/');
  return `${service.slice(service.lastIndexOf('.') + 1)}/${method}`;
}

/** The minimum role for a gRPC path, or undefined when the method is unknown (then denied). */
export function minimumRole(path: string): Role | undefined {
  return METHOD_ROLES[methodKey(path)];
}
