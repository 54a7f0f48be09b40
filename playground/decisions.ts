import { EventEmitter } from 'node:events';

/**
 * One idempotency decision, read from the structured log line a handler wrote (docs/protocol.md section 7).
 * Only what the library logs: digests and names, never a raw key, payload or result.
 */
export interface DecisionRecord {
  readonly signal: string;
  readonly scope: string;
  readonly mode: string;
  readonly org?: string;
  readonly keyDigest?: string;
  readonly correlationId?: string;
  /** The function that logged it (`POWERTOOLS_SERVICE_NAME`). */
  readonly service?: string;
  /** Extra facts the library logged with the signal (`waitedMs`, `attempt`, `outcome`). */
  readonly detail: Readonly<Record<string, unknown>>;
  readonly at: Date;
}

/** What each signal means for the caller, in a few words. */
const MEANING: Readonly<Record<string, string>> = {
  first_execution: 'first time: runs',
  replay: 'duplicate: stored result replayed, not run',
  mismatch: 'same key, different request: rejected (422 / reported failed)',
  in_progress: 'first one still running: 409 Retry-After / acknowledged',
  waited: 'waited for the first one to finish',
  lease_lost: 'ran past its lease: result not stored',
  released: 'failed: key released, a retry runs again',
  store_error: 'store unreachable: failing open',
  result_too_large: 'result too large: stored without body',
  missing_key: 'no idempotency key: rejected (400 / reported failed)',
  invalid_key: 'malformed idempotency key: rejected (400)',
  invalid_org: 'no usable org in the token: rejected (400)',
  would_replay: 'observe mode: would replay, runs anyway',
  would_reject: 'observe mode: would reject, runs anyway',
  permanent_failure: 'permanent error: marked FAILED, goes to the DLQ',
  previously_failed: 'failed permanently before: reported failed',
};

const RESERVED = new Set([
  'idempotency',
  'mode',
  'scope',
  'org',
  'key_digest',
  'correlation_id',
  'level',
  'message',
  'timestamp',
  'service',
  'sampling_rate',
  'xray_trace_id',
  'cold_start',
  'function_name',
  'function_request_id',
  'function_arn',
  'function_memory_size',
]);

/** What `signal` means for the caller, in a few words (`''` for a signal this playground does not know). */
export function meaningOf(signal: string): string {
  return MEANING[signal] ?? '';
}

/** Digests are 43 characters; the first 10 are enough to tell keys apart on screen. */
const short = (digest: string | undefined) => (digest === undefined ? '-' : `${digest.slice(0, 10)}…`);

/**
 * One readable line per decision, e.g.
 * `20:14:03.512 create-order        first_execution   org=acme key#Qm9vX1kP2a… first time: runs`.
 *
 * @example
 * console.log(formatDecision(record));
 */
export function formatDecision(record: DecisionRecord): string {
  const time = record.at.toISOString().slice(11, 23);
  const extras = Object.entries(record.detail)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(' ');
  const meaning = meaningOf(record.signal);
  return [
    time,
    record.scope.padEnd(19),
    record.signal.padEnd(17),
    `org=${record.org ?? '-'}`,
    `key#${short(record.keyDigest)}`,
    meaning,
    extras === '' ? '' : `(${extras})`,
    record.mode === 'enforce' ? '' : `[${record.mode}]`,
  ]
    .filter((part) => part !== '')
    .join(' ');
}

/**
 * Reads one log line. A Powertools JSON line with an `idempotency` field is a decision; other JSON lines
 * are returned as `log` with their level and message; anything else is `undefined` (printed as is).
 *
 * @example
 * parseLogLine('{"level":"INFO","message":"idempotency replay","idempotency":"replay","scope":"x",...}');
 */
export function parseLogLine(
  line: string,
):
  | { kind: 'decision'; record: DecisionRecord }
  | { kind: 'log'; level: string; message: string }
  | undefined {
  const text = line.trim();
  if (!text.startsWith('{')) return undefined;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  if (typeof parsed.idempotency === 'string' && typeof parsed.scope === 'string') {
    const detail = Object.fromEntries(Object.entries(parsed).filter(([name]) => !RESERVED.has(name)));
    const timestamp = typeof parsed.timestamp === 'string' ? new Date(parsed.timestamp) : new Date();
    return {
      kind: 'decision',
      record: {
        signal: parsed.idempotency,
        scope: parsed.scope,
        mode: String(parsed.mode ?? ''),
        org: typeof parsed.org === 'string' ? parsed.org : undefined,
        keyDigest: typeof parsed.key_digest === 'string' ? parsed.key_digest : undefined,
        correlationId: typeof parsed.correlation_id === 'string' ? parsed.correlation_id : undefined,
        service: typeof parsed.service === 'string' ? parsed.service : undefined,
        detail,
        at: Number.isNaN(timestamp.getTime()) ? new Date() : timestamp,
      },
    };
  }
  if (typeof parsed.level === 'string' && typeof parsed.message === 'string') {
    return { kind: 'log', level: parsed.level, message: parsed.message };
  }
  return undefined;
}

/** Emits `decision` ({@link DecisionRecord}) and `log` (`{ level, message }`) as handlers write them. */
export class DecisionFeed extends EventEmitter<{
  decision: [DecisionRecord];
  log: [{ level: string; message: string }];
}> {
  /** Every decision seen since start, oldest first. */
  readonly decisions: DecisionRecord[] = [];

  /** Decisions for `signal`, optionally of one key digest. */
  count(signal: string, keyDigest?: string): number {
    return this.decisions.filter(
      (record) => record.signal === signal && (keyDigest === undefined || record.keyDigest === keyDigest),
    ).length;
  }
}

/**
 * Routes this process's stdout and stderr through {@link parseLogLine}: the handlers' Powertools JSON lines
 * feed `feed` instead of being printed raw; other output passes through. Returns a function that restores
 * the streams.
 *
 * The handlers log exactly as they would in Lambda; the playground only reads those lines, so it shows
 * what an operator would see in CloudWatch, one readable line at a time.
 *
 * @example
 * const restore = captureHandlerLogs(feed);
 */
export function captureHandlerLogs(feed: DecisionFeed): () => void {
  const restores = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    let pending = '';
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      if (pending === '' && !text.trimStart().startsWith('{')) return original(chunk, ...rest);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const passthrough: string[] = [];
      for (const line of lines) {
        const parsed = parseLogLine(line);
        if (parsed === undefined) passthrough.push(line);
        else if (parsed.kind === 'decision') {
          feed.decisions.push(parsed.record);
          feed.emit('decision', parsed.record);
        } else feed.emit('log', { level: parsed.level, message: parsed.message });
      }
      const callback = rest.find((item) => typeof item === 'function') as (() => void) | undefined;
      if (passthrough.length > 0) return original(`${passthrough.join('\n')}\n`, ...rest);
      callback?.();
      return true;
    }) as typeof stream.write;
    return () => {
      stream.write = original as typeof stream.write;
    };
  });
  return () => {
    for (const restore of restores) restore();
  };
}
