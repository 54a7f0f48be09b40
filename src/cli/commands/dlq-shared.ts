import type { Message } from '@aws-sdk/client-sqs';

/**
 * A message body as `dlq peek` and `dlq replay --dry-run` show it. Without `--show-bodies` no byte of it is
 * printed, only its length, since a dead-lettered body is a payload (docs/protocol.md section 2: payloads are
 * never logged); with it, a preview in which the job key, wherever it appears, is replaced by `<job key>`.
 *
 * @example
 * shownBody(message, { showBodies: false }); // '<body hidden: 120 bytes; pass --show-bodies to see it>'
 */
export function shownBody(
  message: Message,
  options: { readonly showBodies: boolean; readonly key?: string; readonly length?: number },
): string {
  const body = message.Body ?? '';
  if (!options.showBodies) {
    return `<body hidden: ${Buffer.byteLength(body)} bytes; pass --show-bodies to see it>`;
  }
  return preview(redactKey(body, options.key), options.length ?? 80);
}

/**
 * Replaces the raw job key wherever it appears in `text`.
 *
 * @example
 * redactKey('{"jobKey":"k-1"}', 'k-1'); // '{"jobKey":"<job key>"}'
 */
export function redactKey(text: string, key: string | undefined): string {
  return key === undefined || key === '' ? text : text.split(key).join('<job key>');
}

function preview(body: string, length: number): string {
  const flat = body.replace(/\s+/g, ' ');
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

/**
 * Reads a queue's `RedrivePolicy` attribute; `undefined` when it is absent or not JSON.
 *
 * @example
 * parseRedrive(queue.attributes.RedrivePolicy)?.deadLetterTargetArn;
 */
export function parseRedrive(
  value: string | undefined,
): { deadLetterTargetArn?: string; maxReceiveCount?: number } | undefined {
  if (value === undefined) return undefined;
  try {
    const policy = JSON.parse(value) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
    return {
      deadLetterTargetArn: policy.deadLetterTargetArn,
      maxReceiveCount: Number(policy.maxReceiveCount),
    };
  } catch {
    return undefined;
  }
}
