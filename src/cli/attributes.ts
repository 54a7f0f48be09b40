import { readFileSync } from 'node:fs';
import { DEFAULT_LAYOUT, type ItemLayout, layoutFromJson } from '../stores/dynamodb-item.js';
import { CliError } from './errors.js';

/**
 * The item layout `--attributes` gives: inline JSON (`{"pk":"PK",...}`) or the path of a JSON file, as
 * `DynamoDBStore`'s `attributes` plus `sortKey: { name, value }` with a constant value; idemkit's schema without it.
 */
export function layoutFromFlag(value: string | undefined): ItemLayout {
  if (value === undefined) return DEFAULT_LAYOUT;
  let text = value;
  if (!value.trimStart().startsWith('{')) {
    try {
      text = readFileSync(value, 'utf8');
    } catch {
      throw new CliError(
        `Expected \`--attributes\` to be a JSON object or the path of a JSON file, got ${JSON.stringify(value)}, which cannot be read.`,
      );
    }
  }
  try {
    return layoutFromJson(text);
  } catch (error) {
    throw new CliError(`\`--attributes\`: ${(error as Error).message}`);
  }
}
