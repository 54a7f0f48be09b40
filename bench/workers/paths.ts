import { measurePaths, type PathsInput, type PathsOutput } from '../lib/paths.js';
import { workerMain } from '../lib/worker.js';

export type { PathResult, PathSample, PathsInput, PathsOutput } from '../lib/paths.js';

workerMain<PathsInput, PathsOutput>((input) => measurePaths(input));
