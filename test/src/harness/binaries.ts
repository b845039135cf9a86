import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable on PATH (or an explicit override); throws a message that says how to install it. */
export function findBinary(
  name: string,
  override: string | undefined,
  installHint: string,
  extraDirs: string[] = [],
): string {
  if (override) return override;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  throw new Error(`${name} not found on PATH. ${installHint}`);
}

/** Directories holding Debian's versioned PostgreSQL binaries, newest first. */
export function postgresBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}
