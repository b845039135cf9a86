/** Site, line and agent ids become NATS subject tokens and KV keys (same rule as proto/src/subjects.ts). */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}
