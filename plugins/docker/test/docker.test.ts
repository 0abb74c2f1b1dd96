/**
 * The docker plugin's own parts: the log stream decoder, options, the errors of an unreachable Engine, and init.
 * (Containers through a real dockerd are tested end to end in core/test/e2e/docker.test.ts.)
 */
import assert from 'node:assert/strict';
import { CedanaError, ErrorCode, parseManifest } from '@cedana-ts/sdk';
import { daemonDownSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src/index';
import { Engine, socketPath } from '../src/engine';
import { FrameDecoder } from '../src/logs';
import { containerName, dockerAddress, DockerOptions } from '../src/options';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('docker plugin', () => {
  describe('FrameDecoder', () => {
    it('splits Docker’s multiplexed stream into payloads', () => {
      const d = new FrameDecoder();
      assert.deepEqual(d.push(Buffer.concat([frame(1, '0\n'), frame(2, 'oops\n')])).map(String), ['0\n', 'oops\n']);
    });

    it('keeps a frame cut across chunks until its end arrives', () => {
      const d = new FrameDecoder();
      const whole = Buffer.concat([frame(1, 'hello\n'), frame(1, 'world\n')]);
      assert.deepEqual(d.push(whole.subarray(0, 5)), []);
      assert.deepEqual(d.push(whole.subarray(5, 17)).map(String), ['hello\n']);
      assert.deepEqual(d.push(whole.subarray(17)).map(String), ['world\n']);
    });
  });

  describe('options', () => {
    it('accepts --image, --name and --network, and refuses others', () => {
      assert.deepEqual(DockerOptions.parse({ image: 'busybox:1', name: 'c1', network: 'none' }), { image: 'busybox:1', name: 'c1', network: 'none' });
      assert.equal(DockerOptions.safeParse({ bundle: '/b' }).success, false);
    });

    it('refuses names Docker would refuse', () => {
      assert.throws(() => containerName('-bad'), (e: CedanaError) => e.code === ErrorCode.InvalidArgument);
      assert.equal(containerName('good_name-1'), 'good_name-1');
    });

    it('reads docker.address, with the default, and accepts unix:// addresses', () => {
      assert.equal(dockerAddress({ docker: { address: '/x/docker.sock' } }), '/x/docker.sock');
      assert.equal(dockerAddress({}), '/var/run/docker.sock');
      assert.equal(socketPath('unix:///run/user/docker.sock'), '/run/user/docker.sock');
    });
  });

  describe('an Engine that is not there', () => {
    it('answers UNAVAILABLE naming the socket, with what to do', async () => {
      const engine = new Engine('/nonexistent/docker.sock');
      await assert.rejects(engine.version(), (e: CedanaError) => {
        assert.equal(e.code, ErrorCode.Unavailable);
        assert.match(e.message, /^cannot reach the Docker daemon at \/nonexistent\/docker\.sock: /);
        assert.match(e.hint ?? '', /start dockerd/);
        return true;
      });
    });
  });
});

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

daemonDownSuite({ describe, it, before, after }, {
  manifest,
  name: 'Docker',
  init: (socket) => plugin.init(testContext(manifest, { config: { docker: { address: socket } } })),
  notInstalled: /Docker is not installed/,
});
