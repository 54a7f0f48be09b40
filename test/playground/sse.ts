/** One server-sent event as read off the wire. */
export interface ServerEvent {
  readonly event: string;
  readonly data: string;
}

/** A connection to an event stream, read as a test needs it. */
export interface EventStream {
  readonly status: number;
  readonly contentType: string | null;
  /** Every event received so far, in order. */
  readonly events: readonly ServerEvent[];
  /** Every byte received so far, as text (to check what never appears). */
  raw(): string;
  /** Resolves with the first event, received or still to come, that `matches`; rejects if the stream ends first. */
  next(matches: (event: ServerEvent) => boolean): Promise<ServerEvent>;
  close(): void;
}

/**
 * Opens `url` as `EventSource` would (`Accept: text/event-stream`) and parses the stream by the
 * specification's rules for the fields the playground sends (`event`, `data`, comments).
 *
 * @example
 * const stream = await openEventStream(`${url}/_playground/events`);
 * await stream.next((event) => event.event === 'decision');
 */
export async function openEventStream(url: string): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  const events: ServerEvent[] = [];
  const waiters = new Set<{
    matches: (event: ServerEvent) => boolean;
    resolve: (event: ServerEvent) => void;
  }>();
  let raw = '';
  let pending = '';
  let ended: Error | undefined;
  const failures = new Set<(error: Error) => void>();
  const dispatch = (block: string) => {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) return;
    const received = { event, data: data.join('\n') };
    events.push(received);
    for (const waiter of waiters) {
      if (!waiter.matches(received)) continue;
      waiters.delete(waiter);
      waiter.resolve(received);
    }
  };
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body ?? []) {
        const text = decoder.decode(chunk as Uint8Array, { stream: true });
        raw += text;
        pending += text.replaceAll('\r\n', '\n');
        const blocks = pending.split('\n\n');
        pending = blocks.pop() ?? '';
        for (const block of blocks) dispatch(block);
      }
      ended = new Error('the event stream ended');
    } catch (error) {
      ended = error instanceof Error ? error : new Error(String(error));
    }
    for (const fail of failures) fail(ended);
  })();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    events,
    raw: () => raw,
    next(matches) {
      const seen = events.find(matches);
      if (seen !== undefined) return Promise.resolve(seen);
      if (ended !== undefined) return Promise.reject(ended);
      return new Promise((resolve, reject) => {
        const waiter = { matches, resolve };
        waiters.add(waiter);
        failures.add((error) => {
          if (waiters.delete(waiter)) reject(error);
        });
      });
    },
    close: () => controller.abort(),
  };
}
