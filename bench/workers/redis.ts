import { measureRedis, type RedisBenchInput, type RedisBenchOutput } from '../lib/redis-bench.js';
import { workerMain } from '../lib/worker.js';

export type { RedisBenchInput, RedisBenchOutput, RedisSideResult } from '../lib/redis-bench.js';

workerMain<RedisBenchInput, RedisBenchOutput>((input) => measureRedis(input));
