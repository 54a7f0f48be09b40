import { measureVariant, type VariantInput, type VariantOutput } from '../lib/overhead.js';
import { workerMain } from '../lib/worker.js';

export type { OverheadInput, OverheadOutput, OverheadPath, Variant } from '../lib/overhead.js';
export { PATHS, VARIANTS } from '../lib/overhead.js';

workerMain<VariantInput, VariantOutput>(measureVariant);
