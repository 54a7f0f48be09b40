import { type LatencyInput, type LatencyOutput, measureLatency } from '../lib/latency.js';
import { workerMain } from '../lib/worker.js';

export type { LatencyInput, LatencyOutput };

workerMain<LatencyInput, LatencyOutput>(measureLatency);
