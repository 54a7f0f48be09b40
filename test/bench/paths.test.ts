import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { measurePaths, type PathResult, type PathsOutput } from '../../bench/lib/paths.js';
import { type BenchResults, summarize } from '../../bench/lib/report.js';
import type { Side } from '../../bench/lib/sides.js';
import { captureLogs, type LogCapture } from '../support/log-capture.js';

// One round of every path of the bench, on the suite's DynamoDB Local: what `npm run bench` reports must be
// what each side really sent and answered. Counts only: times are measured by the bench alone.
let output: PathsOutput;
let logs: LogCapture;

beforeAll(async () => {
  logs = captureLogs();
  try {
    output = await measurePaths({ endpoint: inject('dynamoEndpoint'), repeats: 1 });
  } finally {
    logs.stop();
  }
}, 60_000);

afterAll(() => logs?.stop());

function path(id: string): PathResult {
  const found = output.paths.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`no path ${id}`);
  return found;
}

/** What one side did on a path's only round. */
function sideOf(id: string, side: Side) {
  const sample = path(id).sides[side];
  return {
    roundTrips: sample.tallies[0]?.roundTrips,
    commands: sample.tallies[0]?.commands,
    failed: sample.failed?.[0],
    runs: sample.runs?.[0],
    outcome: sample.outcomes[0],
  };
}

describe('the bench paths report what each side sent', () => {
  it('runs every path once per side', () => {
    for (const result of output.paths) {
      expect(result.sides.idemkit.tallies).toHaveLength(1);
      expect(result.sides.powertools.tallies).toHaveLength(1);
    }
  });

  it('costs idemkit 2 round trips on a first execution and 1 on a replay', () => {
    expect(sideOf('first-1k', 'idemkit').roundTrips).toBe(2);
    expect(sideOf('replay-1k', 'idemkit').roundTrips).toBe(1);
    expect(sideOf('replay-warm', 'idemkit').roundTrips).toBe(0);
  });

  it('collapses SQS in-batch duplicates before any I/O and reports none failed', () => {
    expect(sideOf('batch-one-job', 'idemkit')).toMatchObject({ roundTrips: 2, failed: 0 });
    expect(sideOf('batch-0', 'idemkit')).toMatchObject({ roundTrips: 20, failed: 0 });
  });
});

describe.each([
  ['kinesis', 'Kinesis'],
  ['dynamodb-streams', 'DynamoDB Streams'],
])('the %s rows', (source, name) => {
  it('label the rows for the reader', () => {
    expect(path(`${source}-clean`).label).toBe(`${name} batch of 10, 10 jobs`);
  });

  it('run a clean batch of 10 jobs once each, a claim and a complete per job, on both sides', () => {
    for (const side of ['idemkit', 'powertools'] as const) {
      expect(sideOf(`${source}-clean`, side)).toMatchObject({
        roundTrips: 20,
        commands: { PutItem: 10, UpdateItem: 10 },
        failed: 0,
        runs: 10,
      });
    }
  });

  it('collapse 10 records of 3 jobs into 3 claims and 3 completes on idemkit, none reported failed', () => {
    expect(sideOf(`${source}-duplicates`, 'idemkit')).toMatchObject({
      roundTrips: 6,
      commands: { PutItem: 3, UpdateItem: 3 },
      failed: 0,
      runs: 3,
    });
  });

  it('send Powertools one claim per record: the 7 duplicates meet their twin in progress or completed', () => {
    const powertools = sideOf(`${source}-duplicates`, 'powertools');
    expect(powertools.runs).toBe(3);
    expect(powertools.roundTrips).toBe(13);
    expect(powertools.commands).toMatchObject({ PutItem: 3, 'PutItem (failed)': 7, UpdateItem: 3 });
    // Parallel processing: a duplicate that finds its twin still running is reported failed (timing decides how many).
    expect(powertools.failed).toBeGreaterThanOrEqual(0);
    expect(powertools.failed).toBeLessThanOrEqual(7);
  });

  it('skip every job of a redelivered batch on both sides: one failed claim per record, nothing run', () => {
    for (const side of ['idemkit', 'powertools'] as const) {
      expect(sideOf(`${source}-redelivery`, side)).toMatchObject({
        roundTrips: 10,
        commands: { 'PutItem (failed)': 10 },
        failed: 0,
        runs: 0,
      });
    }
  });
});

describe('the summary', () => {
  const stub = { bytes: 1, gzipBytes: 1, topInputs: [], withSdk: 1, ownOnly: 1 };
  const rows = () =>
    summarize({
      paths: output,
      overhead: {},
      throughput: {},
      memory: { idemkit: [], powertools: [] },
      bundles: { idemkit: stub, powertools: stub },
      cold: { idemkit: stub, powertools: stub },
    } as unknown as BenchResults);

  it('reports records failed for every batch path, with in-batch duplicates held to < 1.0', () => {
    const failed = rows().filter((row) => row.group === '1. records reported failed');
    expect(failed.map((row) => row.metric)).toEqual(
      expect.arrayContaining([
        'Kinesis batch of 10, 10 jobs',
        'Kinesis batch of 10, 3 jobs',
        'Kinesis batch of 10, redelivered',
        'DynamoDB Streams batch of 10, 10 jobs',
        'DynamoDB Streams batch of 10, 3 jobs',
        'DynamoDB Streams batch of 10, redelivered',
      ]),
    );
    expect(failed.find((row) => row.metric === 'Kinesis batch of 10, 10 jobs')).toMatchObject({
      idemkit: 0,
      powertools: 0,
      ratio: 1,
    });
    const duplicates = rows().find(
      (row) => row.group === '1. round trips' && row.metric === 'Kinesis batch of 10, 3 jobs',
    );
    expect(duplicates).toMatchObject({ idemkit: 6, powertools: 13, target: '< 1.0', met: true });
  });
});
