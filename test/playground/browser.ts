import { accessSync, constants } from 'node:fs';

/** The variable that names a Chromium (or Chrome) binary for the page tests, over the Debian paths. */
export const CHROMIUM_VARIABLE = 'IDEMKIT_CHROMIUM';

/** Where Debian's `chromium` package (and Ubuntu's older `chromium-browser`) puts the binary. */
const DEBIAN_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The Chromium the page tests drive: `IDEMKIT_CHROMIUM` when set (an error if it is not an executable, so a
 * misspelled path fails instead of skipping), else the first of Debian's paths that exists, else `undefined`.
 *
 * @example
 * const executablePath = findChromium(); // '/usr/bin/chromium' after `apt-get install chromium`
 */
export function findChromium(
  env: Readonly<Record<string, string | undefined>> = process.env,
  paths: readonly string[] = DEBIAN_PATHS,
): string | undefined {
  const named = env[CHROMIUM_VARIABLE]?.trim();
  if (named !== undefined && named !== '') {
    if (!executable(named))
      throw new Error(
        `Expected \`${CHROMIUM_VARIABLE}\` to name an executable browser, got ${named}; unset it to use ${paths.join(' or ')}.`,
      );
    return named;
  }
  return paths.find(executable);
}
