/**
 * Errors across the wire: CedanaError → gRPC status (daemon) → CedanaError (CLI) keeps the code, the message and
 * the hint, over a real gRPC connection too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, Server, ServerCredentials, status as Status, type ServiceError, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { CedanaError, ErrorCode } from '@cedana-ts/sdk';
import { connectDaemon } from '../../src/client/client';
import { DaemonService, type ListJobsReq, type ListJobsResp } from '../../src/generated/daemon';
import { fromServiceError, toServiceError } from '../../src/server/status';

/** What the client library hands the callback for a failed call. */
function asReceived(partial: Partial<ServiceError>): ServiceError {
  return Object.assign(new Error(`${partial.code} ${partial.details}`), { code: partial.code!, details: partial.details!, metadata: partial.metadata ?? new Metadata() });
}

const ADDRESS = '/run/test.sock';

describe('server/status', function () {
  describe('in memory', function () {
    for (const code of Object.values(ErrorCode)) {
      it(`round-trips ${code} with its message and hint`, function () {
        const sent = new CedanaError(code, `something about ${code}`, { hint: `do this for ${code}` });
        const back = fromServiceError(asReceived(toServiceError(sent)), ADDRESS);
        assert.ok(back instanceof CedanaError);
        assert.equal(back.code, code);
        assert.equal(back.message, sent.message);
        assert.equal(back.hint, sent.hint);
        assert.equal(back.fullMessage, sent.fullMessage);
      });
    }

    it('keeps an absent hint absent', function () {
      const back = fromServiceError(asReceived(toServiceError(new CedanaError(ErrorCode.NotFound, 'job x not found'))), ADDRESS);
      assert.equal(back.code, ErrorCode.NotFound);
      assert.equal(back.hint, undefined);
      assert.equal(back.fullMessage, 'job x not found');
    });

    it('keeps hints that are not plain ASCII (paths, …, ≥)', function () {
      const hint = 'install CRIU ≥ 4.2 or see /tmp/crïu.log; cedana run process -- CMD ARGS…';
      const back = fromServiceError(asReceived(toServiceError(new CedanaError(ErrorCode.Unavailable, 'no CRIU', { hint }))), ADDRESS);
      assert.equal(back.hint, hint);
    });

    it('maps codes onto the gRPC statuses that mean the same', function () {
      const statusOf = (code: ErrorCode) => toServiceError(new CedanaError(code, 'x')).code;
      assert.equal(statusOf(ErrorCode.InvalidArgument), Status.INVALID_ARGUMENT);
      assert.equal(statusOf(ErrorCode.NotFound), Status.NOT_FOUND);
      assert.equal(statusOf(ErrorCode.AlreadyExists), Status.ALREADY_EXISTS);
      assert.equal(statusOf(ErrorCode.FailedPrecondition), Status.FAILED_PRECONDITION);
      assert.equal(statusOf(ErrorCode.CorruptCheckpoint), Status.DATA_LOSS);
      assert.equal(statusOf(ErrorCode.PermissionDenied), Status.PERMISSION_DENIED);
      assert.equal(statusOf(ErrorCode.Unavailable), Status.UNAVAILABLE);
      assert.equal(statusOf(ErrorCode.Unsupported), Status.UNIMPLEMENTED);
      for (const code of Object.values(ErrorCode)) assert.equal(typeof statusOf(code), 'number', code);
    });

    it('turns anything else thrown into INTERNAL with its message', function () {
      const back = fromServiceError(asReceived(toServiceError(new TypeError('x is undefined'))), ADDRESS);
      assert.equal(back.code, ErrorCode.Internal);
      assert.equal(back.message, 'x is undefined');
      assert.equal(toServiceError(new Error('boom')).code, Status.INTERNAL);
    });

    it('an unreachable daemon says how to start it', function () {
      const back = fromServiceError(asReceived({ code: Status.UNAVAILABLE, details: 'No connection established' }), ADDRESS);
      assert.equal(back.code, ErrorCode.Unavailable);
      assert.match(back.fullMessage, new RegExp(`cannot reach the daemon at ${ADDRESS}`));
      assert.match(back.fullMessage, /cedana daemon start/);
    });

    it('a daemon that does not answer in time is UNAVAILABLE', function () {
      const back = fromServiceError(asReceived({ code: Status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }), ADDRESS);
      assert.equal(back.code, ErrorCode.Unavailable);
      assert.match(back.message, /did not answer in time/);
    });

    it('ignores a code it does not know', function () {
      const metadata = new Metadata();
      metadata.set('cedana-error-code', 'NO_SUCH_CODE');
      const back = fromServiceError(asReceived({ code: Status.UNKNOWN, details: 'odd', metadata }), ADDRESS);
      assert.equal(back.code, ErrorCode.Internal);
      assert.equal(back.message, 'odd');
    });
  });

  describe('over a real gRPC connection', function () {
    let dir: string;
    let server: Server;
    let socket: string;
    let next: unknown;

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'cedana-unit-status-'));
      socket = join(dir, 'd.sock');
      server = new Server();
      server.addService(DaemonService, {
        listJobs: (_call: ServerUnaryCall<ListJobsReq, ListJobsResp>, cb: sendUnaryData<ListJobsResp>) => {
          if (next) cb(toServiceError(next) as ServiceError);
          else cb(null, { jobs: [] });
        },
      });
      await new Promise<void>((res, rej) => server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) => (err ? rej(err) : res())));
    });

    after(async function () {
      await new Promise<void>((res) => server.tryShutdown(() => res()));
      rmSync(dir, { recursive: true, force: true });
    });

    async function call(err: unknown): Promise<CedanaError> {
      next = err;
      const daemon = connectDaemon({ address: socket, protocol: 'unix' });
      try {
        await daemon.listJobs({ jids: [] });
      } catch (e) {
        return e as CedanaError;
      } finally {
        daemon.close();
      }
      throw new Error('the call succeeded');
    }

    it('answers when nothing fails', async function () {
      next = undefined;
      const daemon = connectDaemon({ address: socket, protocol: 'unix' });
      try {
        assert.deepEqual(await daemon.listJobs({ jids: [] }), { jobs: [] });
      } finally {
        daemon.close();
      }
    });

    it('brings back the code, message and hint', async function () {
      const sent = new CedanaError(ErrorCode.FailedPrecondition, 'job a is still running (PID 7, status: sleep)', { hint: 'dump it (without --leave-running) or kill it before restoring' });
      const back = await call(sent);
      assert.ok(back instanceof CedanaError);
      assert.equal(back.code, sent.code);
      assert.equal(back.message, sent.message);
      assert.equal(back.hint, sent.hint);
    });

    it('brings back non-ASCII messages and hints', async function () {
      const sent = new CedanaError(ErrorCode.InvalidArgument, 'run: JID: a job id is 1–128 letters', { hint: 'cedana run process -- CMD ARGS…' });
      const back = await call(sent);
      assert.equal(back.code, ErrorCode.InvalidArgument);
      assert.equal(back.message, sent.message);
      assert.equal(back.hint, sent.hint);
    });

    it('brings back plain errors as INTERNAL', async function () {
      const back = await call(new Error('disk on fire'));
      assert.equal(back.code, ErrorCode.Internal);
      assert.equal(back.message, 'disk on fire');
    });

    it('a missing socket fails at once with how to start the daemon', function () {
      assert.throws(
        () => connectDaemon({ address: join(dir, 'absent.sock'), protocol: 'unix' }),
        (err: unknown) => err instanceof CedanaError && err.code === ErrorCode.Unavailable && /not running/.test(err.message) && /cedana daemon start/.test(err.fullMessage),
      );
    });
  });
});
