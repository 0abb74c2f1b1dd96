/**
 * How the conformance suites talk to a test framework without depending on one: the caller hands in its own
 * `describe`/`it`/`before`/`after` (mocha's fit as they are), and each check is a plain async function that throws
 * when the plugin breaks the contract — so the checks can also be run directly.
 */
import assert from 'node:assert/strict';
import { CedanaError, isErrorCode } from '../errors';

/** `this` inside a describe block: only the timeout is used. */
export interface SuiteContext {
  timeout(ms: number): unknown;
}

/** The part of a BDD test framework the suites use; pass mocha's `{ describe, it, before, after }`. */
export interface SuiteApi {
  describe(title: string, fn: (this: SuiteContext) => void): unknown;
  it(title: string, fn: () => Promise<void>): unknown;
  before(fn: () => Promise<void>): unknown;
  after(fn: () => Promise<void>): unknown;
}

/** One contract check. `run` throws (an assertion error) when the implementation breaks the contract. */
export interface Check<C> {
  name: string;
  run(ctx: C): Promise<void>;
}

/**
 * Registers `checks` as one describe block: `setup` runs once before them and its result is handed to each;
 * `teardown` runs once after.
 */
export function registerChecks<C>(
  api: SuiteApi,
  title: string,
  timeoutMs: number,
  setup: () => Promise<C>,
  checks: Check<C>[],
  teardown: (ctx: C | undefined) => Promise<void>,
): void {
  api.describe(title, function () {
    this.timeout(timeoutMs);
    let ctx: C | undefined;
    api.before(async () => {
      ctx = await setup();
    });
    api.after(async () => {
      await teardown(ctx);
    });
    for (const check of checks) {
      api.it(check.name, async () => {
        assert.ok(ctx !== undefined, 'the suite set-up did not finish');
        await check.run(ctx);
      });
    }
  });
}

/** Asserts that `p` rejects with an error carrying one of the SDK's stable codes; returns that error. */
export async function rejectsWithCode(p: Promise<unknown>, what: string, code?: string): Promise<CedanaError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `${what}: expected a failure, but it succeeded`);
  const c = (caught as { code?: unknown }).code;
  assert.ok(isErrorCode(c), `${what}: expected a CedanaError with a stable code, got ${String(caught)}`);
  if (code !== undefined) assert.equal(c, code, `${what}: expected code ${code}, got ${String(c)} (${String(caught)})`);
  return caught as CedanaError;
}

/** Polls `fn` until it returns true, or fails after `ms` naming `what`. */
export async function eventually(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
