/**
 * The SDK's runtime conformance suite, run against this plugin with the real CRIU.
 */
import { spawn } from 'node:child_process';
import { parseManifest } from '@cedana-ts/sdk';
import { runtimeSuite, testContext } from '@cedana-ts/sdk/testing';
import plugin from '../src';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const manifest = parseManifest(require('../../package.json'));

runtimeSuite({ describe, it, before, after }, {
  manifest,
  setup: () => plugin.init(testContext(manifest)),
  // A counter that appends a line every 50 ms: its log grows while it runs. One process, no children: a test
  // process is no child subreaper, so a child killed by the dump would stay a zombie and hold its PID, which the
  // restore needs back.
  workload: () => ({ args: ['python3', '-u', '-c', 'import time\ni = 0\nwhile True:\n    print(i)\n    i += 1\n    time.sleep(0.05)'] }),
  manageTarget: async () => {
    const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    return {
      target: String(child.pid),
      stop: async () => {
        child.kill('SIGKILL');
      },
    };
  },
});
