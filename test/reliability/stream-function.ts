/**
 * A Lambda function for the stream scenarios: a pool of `fixtures/stream-worker.ts` processes, each one
 * instance that runs one invocation at a time. An event source mapping invokes it; an instance that dies
 * mid-invocation fails that invocation (the mapping retries the batch) and is replaced by a fresh one.
 */
import type { StreamWorkerInput, StreamWorkerResult } from './fixtures/stream-worker.js';
import { resultOf, startWorker, type Worker } from './support.js';

/**
 * Options of {@link StreamFunction}: how many instances, and the input of each (by its place in the pool);
 * `replacement` is the input of an instance started after one died.
 */
export interface StreamFunctionOptions {
  readonly instances: number;
  readonly input: (instance: number) => StreamWorkerInput;
  readonly replacement?: StreamWorkerInput;
}

/**
 * The pool: `start()`, hand `invoke` to the mappings, `close()` to collect each instance's last line.
 *
 * @example
 * const fn = new StreamFunction({ instances: 4, input: () => workerInput });
 * await fn.start();
 * const mapping = new EventSourceMapping({ reader, invoke: (event) => fn.invoke(event) });
 */
export class StreamFunction {
  readonly #options: StreamFunctionOptions;
  readonly #idle: Worker[] = [];
  readonly #waiting: ((worker: Worker) => void)[] = [];
  readonly #alive = new Set<Worker>();
  /** Every instance ever started, in start order. */
  readonly instances: Worker[] = [];
  readonly #closed: Promise<StreamWorkerResult>[] = [];
  #next = 0;
  /** Instances that died (killed) and were replaced. */
  deaths = 0;

  constructor(options: StreamFunctionOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await Promise.all(
      Array.from({ length: this.#options.instances }, (_, index) => this.#launch(this.#options.input(index))),
    );
  }

  /** Every line of every instance, for signal counts and the secret check. */
  get lines(): string[] {
    return this.instances.flatMap((worker) => worker.lines);
  }

  /** Runs `event` on an idle instance; rejects when the handler threw or the instance died. */
  async invoke(event: unknown): Promise<unknown> {
    const worker = await this.#acquire();
    const id = ++this.#next;
    worker.send(`INVOKE ${id} ${JSON.stringify(event)}`);
    let answer: { response?: unknown; threw?: string };
    try {
      answer = JSON.parse(await worker.line(`ANSWER ${id} `, 120_000)) as typeof answer;
    } catch (error) {
      this.#alive.delete(worker);
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
        this.deaths += 1;
        await this.#launch(this.#options.replacement ?? this.#options.input(this.instances.length));
      }
      throw error;
    }
    this.#release(worker);
    if (answer.threw !== undefined) throw new Error(`the handler threw ${answer.threw}`);
    return answer.response;
  }

  /** Ends every live instance's input and collects the `RESULT` line of each. */
  async close(): Promise<StreamWorkerResult[]> {
    for (const worker of this.#alive) {
      this.#closed.push(resultOf<StreamWorkerResult>(worker, 60_000));
      worker.child.stdin.end();
    }
    this.#alive.clear();
    return Promise.all(this.#closed);
  }

  async #launch(input: StreamWorkerInput): Promise<void> {
    const worker = startWorker('stream-worker.ts', input);
    this.instances.push(worker);
    await worker.line('ready', 60_000);
    this.#alive.add(worker);
    this.#release(worker);
  }

  #acquire(): Promise<Worker> {
    const idle = this.#idle.shift();
    if (idle !== undefined) return Promise.resolve(idle);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(worker: Worker): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(worker);
    else this.#idle.push(worker);
  }
}
