/**
 * Scenario 7: tenant isolation. One org cannot read, replay, release or infer another org's record through
 * the HTTP middleware, the SQS job runner or the `idemkit records` CLI; a client-sent org header is ignored
 * unless the service's own `org` function reads it.
 */
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordKey } from '../../src/core/keys.js';
import { silentTelemetry } from '../../src/core/telemetry.js';
import { httpIdempotency } from '../../src/http/index.js';
import { sqsJobs } from '../../src/sqs/index.js';
import { REPLAY_ATTRIBUTE } from '../../src/sqs/replay-marker.js';
import { DynamoDBStore } from '../../src/stores/dynamodb.js';
import { idemkit } from '../cli/support.js';
import { type EventKindName, header, httpEvent, lambdaContext, orgOf } from '../http/harness.js';
import { fakeContext, gate, reported } from '../sqs/support.js';
import { createIdempotencyTable, localClient } from '../support/dynamodb.js';
import { readRecords, report, SecretLedger, sqsRecord } from './support.js';

const { client } = localClient();
const secrets = new SecretLedger();
let tableName: string;
let store: DynamoDBStore;

beforeAll(async () => {
  tableName = await createIdempotencyTable(client, 'rel-tenants');
  store = new DynamoDBStore({ tableName, client });
});
afterAll(() => client.destroy());

/** An orders API whose org is whatever `org` reads; counts runs per org. */
function ordersApi(org: (event: Record<string, unknown>) => string | undefined) {
  const runs: string[] = [];
  const hold = { gate: undefined as ReturnType<typeof gate> | undefined };
  const handler = middy(async (event: Record<string, unknown>) => {
    runs.push(orgOf(event) ?? 'none');
    if (hold.gate !== undefined) await hold.gate.wait;
    return {
      statusCode: 201,
      body: JSON.stringify({ run: randomUUID(), result: secrets.next('tenant-result') }),
    };
  }).use(
    httpIdempotency<Record<string, unknown>>({
      store,
      scope: 'create-order',
      org,
      environment: 'test',
      mode: 'enforce',
      waitBudgetMs: 0,
      telemetry: silentTelemetry,
    }),
  );
  const invoke = async (kind: EventKindName, input: Parameters<typeof httpEvent>[1]) => {
    const response = (await handler(httpEvent(kind, input) as never, lambdaContext())) as {
      statusCode: number;
      headers?: Record<string, string>;
      body: string;
    };
    return {
      status: response.statusCode,
      replayed: header(response, 'idempotent-replayed') === 'true',
      run: (JSON.parse(response.body) as { run?: string }).run,
    };
  };
  return { runs, invoke, hold };
}

const fromClaims = (event: Record<string, unknown>) => orgOf(event);

describe('the HTTP middleware', () => {
  it("never replays, rejects or holds one org's request with another org's record", async () => {
    const api = ordersApi(fromClaims);
    const key = secrets.next('tenant-key');
    const body = { payload: secrets.next('tenant-payload') };
    const acme = await api.invoke('http', { key, body, org: 'acme' });
    // Same key and body from another org: its own first execution, not acme's replay.
    const globex = await api.invoke('http', { key, body, org: 'globex' });
    // Same key, another body: not a 422 that would tell globex acme used the key.
    const otherKey = secrets.next('tenant-key');
    await api.invoke('http', { key: otherKey, body, org: 'acme' });
    const probe = await api.invoke('http', { key: otherKey, body: { probe: true }, org: 'globex' });
    // Acme's request still running: globex is not told "in progress".
    const runningKey = secrets.next('tenant-key');
    api.hold.gate = gate();
    const running = api.invoke('http', { key: runningKey, body, org: 'acme' });
    // Four runs so far; the fifth is acme's held request reaching the handler.
    while (api.runs.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    const opened = api.hold.gate;
    api.hold.gate = undefined;
    const whileRunning = await api.invoke('http', { key: runningKey, body, org: 'globex' });
    opened.open();
    await running;

    report('7-http', { acme, globex, probe: probe.status, whileRunning: whileRunning.status });
    expect(acme.status).toBe(201);
    expect(globex).toMatchObject({ status: 201, replayed: false });
    expect(globex.run).not.toBe(acme.run);
    expect(probe).toMatchObject({ status: 201, replayed: false });
    expect(whileRunning).toMatchObject({ status: 201, replayed: false });
    expect(api.runs).toEqual(['acme', 'globex', 'acme', 'globex', 'acme', 'globex']);
  });

  it('ignores a client-sent org header unless the service reads the org from it', async () => {
    const api = ordersApi(fromClaims);
    const key = secrets.next('tenant-key');
    const body = { payload: secrets.next('tenant-payload') };
    const victim = await api.invoke('http', { key, body, org: 'globex' });
    // The attacker is authenticated as acme and claims to be globex in a header.
    const attacker = await api.invoke('http', {
      key,
      body,
      org: 'acme',
      headers: { 'x-org-id': 'globex', 'X-Org-Id': 'globex' },
    });
    const pks = (await readRecords(client, tableName)).map((record) => record.pk);

    // A service that opts in (a Function URL behind its own trusted proxy) reads the header.
    const optedIn = ordersApi((event) => (event.headers as Record<string, string>)['x-org-id']);
    const headerKey = secrets.next('tenant-key');
    await optedIn.invoke('function-url', { key: headerKey, body, org: 'initech' });

    expect(victim.status).toBe(201);
    expect(attacker).toMatchObject({ status: 201, replayed: false });
    expect(attacker.run).not.toBe(victim.run);
    expect(pks).toContain(recordKey('acme', 'create-order', key));
    expect(await store.get(recordKey('initech', 'create-order', headerKey))).toMatchObject({
      org: 'initech',
    });
  });
});

describe('the SQS job runner', () => {
  it("runs another org's job with the same job key, and never reclaims another org's FAILED job", async () => {
    const runs: string[] = [];
    const handler = sqsJobs({
      store,
      scope: 'send-invoice-email',
      environment: 'test',
      mode: 'enforce',
      telemetry: silentTelemetry,
      org: (record) => record.messageAttributes.orgId?.stringValue,
      jobKey: (record) => (JSON.parse(record.body) as { jobKey: string }).jobKey,
      processRecord: async (record) => {
        runs.push(record.messageAttributes.orgId?.stringValue ?? '');
        if ((JSON.parse(record.body) as { n: number }).n === 1) throw new Error('permanent');
      },
      isPermanentError: () => true,
    });
    const done = { jobKey: secrets.next('tenant-job'), n: 0, payload: secrets.next('tenant-payload') };
    const failed = { jobKey: secrets.next('tenant-job'), n: 1, payload: secrets.next('tenant-payload') };
    await handler(
      { Records: [sqsRecord({ ...done, org: 'acme' }), sqsRecord({ ...failed, org: 'acme' })] },
      fakeContext(),
    );
    const acmeFailed = await store.get(recordKey('acme', 'send-invoice-email', failed.jobKey));
    const globex = await handler({ Records: [sqsRecord({ ...done, org: 'globex' })] }, fakeContext());
    // Globex's operator replays a message that carries acme's failed job key: it is globex's job, not acme's.
    const replay = sqsRecord({ ...failed, n: 2, org: 'globex' }, { [REPLAY_ATTRIBUTE]: 'replay-1' });
    const replayed = await handler({ Records: [replay] }, fakeContext());

    expect(runs).toEqual(['acme', 'acme', 'globex', 'globex']);
    expect(reported(globex)).toEqual([]);
    expect(reported(replayed)).toEqual([]);
    expect(acmeFailed?.status).toBe('FAILED');
    expect(await store.get(recordKey('acme', 'send-invoice-email', failed.jobKey))).toEqual(acmeFailed);
  });
});

describe('the records CLI', () => {
  it("cannot read, list or release another org's record", async () => {
    const api = ordersApi(fromClaims);
    const key = secrets.next('tenant-key');
    await api.invoke('http', { key, body: { payload: secrets.next('tenant-payload') }, org: 'acme' });
    const acmePk = recordKey('acme', 'create-order', key);
    const before = await store.get(acmePk);
    const endpoint = inject('dynamoEndpoint');
    const cli = (...args: string[]) =>
      idemkit([...args, '--table', tableName, '--endpoint', endpoint, '--json']);

    const [getByKey, getByPk, list, listPrefix, releaseByKey, releaseByPk, ownGet] = await Promise.all([
      cli('records', 'get', '--org', 'globex', '--scope', 'create-order', '--key', key, '--show-result'),
      cli('records', 'get', '--org', 'globex', '--pk', acmePk, '--show-result'),
      cli('records', 'list', '--org', 'globex'),
      cli('records', 'list', '--org', 'acm'),
      cli(
        'records',
        'release',
        '--org',
        'globex',
        '--scope',
        'create-order',
        '--key',
        key,
        '--force',
        '--yes',
      ),
      cli('records', 'release', '--org', 'globex', '--pk', acmePk, '--force', '--yes'),
      cli('records', 'get', '--org', 'acme', '--scope', 'create-order', '--key', key),
    ]);
    const listed = (result: typeof list) =>
      (result.json<{ records: { pk: string }[] }>().records ?? []).map((record) => record.pk);
    const outputs = [getByKey, getByPk, list, listPrefix, releaseByKey, releaseByPk, ownGet].flatMap((r) => [
      r.stdout,
      r.stderr,
    ]);
    report('7-cli', {
      codes: [getByKey, getByPk, list, listPrefix, releaseByKey, releaseByPk, ownGet].map((r) => r.code),
    });

    expect(ownGet.code).toBe(0);
    expect(ownGet.json()).toMatchObject({ pk: acmePk, status: 'COMPLETED' });
    expect(getByKey.code).not.toBe(0);
    expect(getByKey.stdout).toBe('');
    expect(getByPk.code).toBe(2);
    expect(getByPk.stdout).toBe('');
    expect(listed(list).every((pk) => pk.startsWith('globex#'))).toBe(true);
    expect(listed(listPrefix)).toEqual([]);
    expect(releaseByKey.code).not.toBe(0);
    expect(releaseByPk.code).toBe(2);
    expect(await store.get(acmePk)).toEqual(before);
    // Nothing the other org saw names acme's record.
    expect(
      [getByKey, getByPk, list, listPrefix, releaseByKey, releaseByPk].some(
        (result) =>
          result.stdout.includes(acmePk.split('#')[2] as string) &&
          !result.stderr.includes('Expected `--pk`'),
      ),
    ).toBe(false);
    expect(secrets.leaks(outputs.join('\n').split('\n'))).toEqual([]);
  }, 60_000);
});
