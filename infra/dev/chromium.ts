import { existsSync } from 'node:fs';
import { aptInstall, canAptInstall } from './lib/infra-apt';
import { findOnPath, isExecutableFile } from './lib/infra-process';

/**
 * The browser the browser tests drive (playwright-core with `executablePath`): Debian's chromium.
 * Playwright's own browser download needs hosts these machines cannot reach, so it is never used.
 * Order: CHROMIUM_PATH, then /usr/bin/chromium (or chromium on PATH); when none is there and this
 * runs as root with apt-get, the harness installs Debian's `chromium` and `fonts-liberation` (text
 * in screenshots needs a font) and tries again.
 */

const DEBIAN_PACKAGES = ['chromium', 'fonts-liberation'] as const;
const DEFAULT_PATH = '/usr/bin/chromium';

function findChromium(): string | undefined {
  const given = process.env['CHROMIUM_PATH'];
  if (given !== undefined && given !== '') {
    if (!isExecutableFile(given)) throw new Error(`CHROMIUM_PATH=${given} is not an executable file`);
    return given;
  }
  if (isExecutableFile(DEFAULT_PATH)) return DEFAULT_PATH;
  return findOnPath('chromium') ?? findOnPath('chromium-browser');
}

/** The path of a chromium binary, installed with apt first when missing (root only). */
export async function ensureChromium(log: (line: string) => void = () => {}): Promise<string> {
  const found = findChromium();
  if (found !== undefined) return found;
  if (!canAptInstall()) {
    throw new Error(
      `No chromium: install Debian's chromium (apt-get install chromium fonts-liberation) or set CHROMIUM_PATH`,
    );
  }
  log(`chromium: not found; installing ${DEBIAN_PACKAGES.join(' ')} with apt-get (once, about a minute)...`);
  const result = await aptInstall(DEBIAN_PACKAGES, { log });
  if (!result.ok) throw new Error(`Could not install chromium: ${result.reason}`);
  const installed = findChromium();
  if (installed === undefined || !existsSync(installed)) {
    throw new Error(`apt-get installed ${DEBIAN_PACKAGES.join(' ')} but no chromium binary was found`);
  }
  return installed;
}
