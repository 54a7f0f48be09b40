import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Item } from './expressions.js';

/** What one command cost. `estimated`: computed from item sizes because the server reported nothing. */
export interface Call {
  readonly command: string;
  readonly ok: boolean;
  readonly wcu: number;
  readonly rcu: number;
  readonly estimated: boolean;
}

/** Round trips and capacity units of a stretch of work. */
export interface Tally {
  readonly roundTrips: number;
  readonly wcu: number;
  readonly rcu: number;
  /** Calls whose units were computed from item sizes (conditional failures). */
  readonly estimated: number;
  readonly commands: Record<string, number>;
}

/** Checks of the size rule against what the server reported, so the estimates can be trusted. */
export interface SizeCheck {
  matched: number;
  mismatched: number;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);

/**
 * An SDK middleware that counts every command a client sends and asks for `ReturnConsumedCapacity: TOTAL`.
 * DynamoDB Local reports consumed capacity on success but not on a `ConditionalCheckFailedException`; DynamoDB
 * still charges a failed conditional write, so those units are computed from item sizes with
 * {@link itemSize} (the larger of the old and new item for PutItem, the old item for Update/Delete).
 */
export class Meter {
  readonly calls: Call[] = [];
  readonly sizeCheck: SizeCheck = { matched: 0, mismatched: 0 };

  install(client: DynamoDBClient, options: { readonly askCapacity: boolean }): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName);
        const input = args.input as Record<string, unknown>;
        if (options.askCapacity) input.ReturnConsumedCapacity = 'TOTAL';
        try {
          const result = await next(args);
          const output = result.output as { ConsumedCapacity?: { CapacityUnits?: number } };
          const units = output.ConsumedCapacity?.CapacityUnits;
          const write = WRITES.has(command);
          if (write && command === 'PutItemCommand' && units !== undefined) {
            const computed = writeUnits(itemSize(input.Item as Item));
            // A PutItem that replaced an item is charged for the larger one; only first writes are comparable.
            if (computed === units) this.sizeCheck.matched++;
            else if (computed > units) this.sizeCheck.mismatched++;
          }
          this.calls.push({
            command,
            ok: true,
            wcu: write ? (units ?? 0) : 0,
            rcu: write ? 0 : (units ?? 0),
            estimated: false,
          });
          return result;
        } catch (error) {
          const failed = error as { name?: string; Item?: Item };
          if (failed.name === 'ConditionalCheckFailedException') {
            const newSize = command === 'PutItemCommand' ? itemSize(input.Item as Item) : 0;
            const oldSize = failed.Item === undefined ? 0 : itemSize(failed.Item);
            this.calls.push({
              command,
              ok: false,
              wcu: writeUnits(Math.max(newSize, oldSize)),
              rcu: 0,
              estimated: true,
            });
          } else {
            this.calls.push({ command, ok: false, wcu: 0, rcu: 0, estimated: false });
          }
          throw error;
        }
      },
      { step: 'initialize', priority: 'high', name: 'benchMeter' },
    );
  }

  /** The calls since `from` (an index into {@link calls}). */
  tally(from = 0): Tally {
    const calls = this.calls.slice(from);
    const commands: Record<string, number> = {};
    for (const call of calls) {
      const name = `${call.command.replace(/Command$/, '')}${call.ok ? '' : ' (failed)'}`;
      commands[name] = (commands[name] ?? 0) + 1;
    }
    return {
      roundTrips: calls.length,
      wcu: sum(calls.map((call) => call.wcu)),
      rcu: sum(calls.map((call) => call.rcu)),
      estimated: calls.filter((call) => call.estimated).length,
      commands,
    };
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** Write units: one per started KB of item size, at least one. */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

/**
 * An item's size by DynamoDB's documented rules: attribute name bytes plus value bytes; strings by UTF-8
 * length, binaries by length, numbers 1 byte per 2 significant digits plus 1, booleans and nulls 1, maps and
 * lists 3 bytes plus 1 per element.
 */
export function itemSize(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item))
    bytes += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return bytes;
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S, 'utf8');
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.M !== undefined) {
    let bytes = 3;
    for (const [name, member] of Object.entries(value.M)) {
      bytes += 1 + Buffer.byteLength(name, 'utf8') + valueSize(member);
    }
    return bytes;
  }
  if (value.L !== undefined) return 3 + sum(value.L.map((member) => 1 + valueSize(member)));
  if (value.SS !== undefined) return sum(value.SS.map((member) => Buffer.byteLength(member, 'utf8')));
  if (value.NS !== undefined) return sum(value.NS.map(numberSize));
  if (value.BS !== undefined) return sum(value.BS.map((member) => member.byteLength));
  return 0;
}

function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, '')
    .replace(/e.*$/i, '')
    .replace('.', '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}
