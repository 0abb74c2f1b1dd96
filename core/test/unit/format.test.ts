/**
 * Text output of the CLI: sizes, relative times, borderless tables.
 */
import assert from 'node:assert/strict';
import { dateTime, formatSize, keyValues, table, timeAgo } from '../../src/cli/format';
import { jobsTable } from '../../src/cli/commands/job';
import type { Job } from '../../src/generated/daemon';

describe('cli/format', function () {
  describe('formatSize', function () {
    it('uses binary units with no decimals', function () {
      assert.equal(formatSize(644 * 1024), '644 KiB');
      assert.equal(formatSize(659_456), '644 KiB');
      assert.equal(formatSize(1023), '1023 bytes');
      assert.equal(formatSize(1024), '1 KiB');
      assert.equal(formatSize(12 * 1024 * 1024), '12 MiB');
      assert.equal(formatSize(3 * 1024 ** 3), '3 GiB');
      assert.equal(formatSize(2 * 1024 ** 4), '2 TiB');
      assert.equal(formatSize(5000 * 1024 ** 4), '5000 TiB', 'the largest unit goes on counting');
    });

    it('is empty for zero and nonsense', function () {
      assert.equal(formatSize(0), '');
      assert.equal(formatSize(-5), '');
      assert.equal(formatSize(Number.NaN), '');
    });
  });

  describe('timeAgo', function () {
    const now = 1_800_000_000_000;
    const ago = (s: number) => timeAgo(now - s * 1000, now);

    it('reads like Docker and Cedana', function () {
      assert.equal(ago(0), 'about a second ago');
      assert.equal(ago(1), 'about a second ago');
      assert.equal(ago(2), '2 seconds ago');
      assert.equal(ago(59), '59 seconds ago');
      assert.equal(ago(60), 'about a minute ago');
      assert.equal(ago(119), 'about a minute ago');
      assert.equal(ago(120), '2 minutes ago');
      assert.equal(ago(59 * 60), '59 minutes ago');
      assert.equal(ago(3600), 'about an hour ago');
      assert.equal(ago(3 * 3600), '3 hours ago');
      assert.equal(ago(86400), 'one day ago');
      assert.equal(ago(3 * 86400), '3 days ago');
    });

    it('rounds to the nearest second and never goes negative', function () {
      assert.equal(timeAgo(now - 2400, now), '2 seconds ago');
      assert.equal(timeAgo(now + 60_000, now), 'about a second ago', 'clock skew: a time in the future');
    });

    it('defaults to now', function () {
      assert.equal(timeAgo(Date.now() - 2000), '2 seconds ago');
    });
  });

  describe('dateTime', function () {
    it('is local YYYY-MM-DD HH:MM:SS', function () {
      const d = new Date(2026, 0, 2, 3, 4, 5);
      assert.equal(dateTime(d.getTime()), '2026-01-02 03:04:05');
    });
  });

  describe('table', function () {
    it('upper-cases headers, pads columns to line up, right-aligns some, trims line ends', function () {
      const out = table(
        ['Job', 'PID', 'Status', 'Log'],
        [
          ['a', '7', 'running', ''],
          ['longer_name9', '123456', 'halted', '/var/log/x.log'],
        ],
        ['PID'],
      );
      const lines = out.split('\n');
      assert.deepEqual(lines, [
        'JOB              PID  STATUS   LOG',
        'a                  7  running',
        'longer_name9  123456  halted   /var/log/x.log',
      ]);
      for (const l of lines) assert.equal(l, l.trimEnd());
      // Each column starts at the same offset on every line.
      const col = (l: string, word: string) => l.indexOf(word);
      assert.equal(col(lines[0], 'STATUS'), col(lines[1], 'running'));
      assert.equal(col(lines[0], 'STATUS'), col(lines[2], 'halted'));
      assert.equal(col(lines[0], 'PID') + 'PID'.length, col(lines[1], '7') + 1, 'right-aligned column ends line up');
      assert.equal(col(lines[2], '123456') + 6, col(lines[1], '7') + 1);
    });

    it('is just the header line with no rows', function () {
      assert.equal(table(['A', 'Bb'], []), 'A  BB');
    });

    it('treats missing cells as empty', function () {
      assert.equal(table(['A', 'B', 'C'], [['x'], ['yy', 'z', 'w']]), ['A   B  C', 'x', 'yy  z  w'].join('\n'));
    });
  });

  describe('jobsTable (cedana ps)', function () {
    it('lines up PID, checkpoint age and size on the right', function () {
      const now = 1_800_000_000_000;
      const job = (jid: string, pid: number, ckpt?: { time: number; size: number }): Job => ({
        attachable: false,
        jid,
        type: 'process',
        pid,
        status: 'running',
        gpu: false,
        log: `/var/log/cedana-output-${jid}.log`,
        cmdline: [],
        detailsJson: '{}',
        host: 'h',
        createdAt: now,
        latestCheckpoint: ckpt ? { id: 'c', jid, type: 'process', path: '/p', time: ckpt.time, size: ckpt.size, compression: 'none' } : undefined,
        exited: false,
        exitCode: 0,
        exitSignal: '',
      });
      const lines = jobsTable([job('a', 7, { time: now - 2000, size: 644 * 1024 }), job('bb', 123456)], now).split('\n');
      assert.match(lines[0], /^JOB\s+TYPE\s+PID\s+STATUS\s+GPU\s+CHECKPOINT\s+SIZE\s+LOG$/);
      assert.match(lines[1], /^a\s+process\s+7\s+running\s+no\s+2 seconds ago\s+644 KiB\s+\/var\/log\/cedana-output-a\.log$/);
      assert.equal(lines[1].indexOf('7') + 1, lines[0].indexOf('PID') + 3);
      assert.equal(lines[2].indexOf('123456') + 6, lines[0].indexOf('PID') + 3);
      assert.equal(lines[1].indexOf('KiB') + 3, lines[0].indexOf('SIZE') + 4);
      assert.equal(lines[1].indexOf('/var/log'), lines[2].indexOf('/var/log'));
    });

    it('has a SLURM column with the Slurm job ID only when a listed job runs in one', function () {
      const now = 1_800_000_000_000;
      const job = (jid: string, type: string, details: object): Job => ({
        attachable: false,
        jid,
        type,
        pid: 7,
        status: 'running',
        gpu: false,
        log: '',
        cmdline: [],
        detailsJson: JSON.stringify(details),
        host: 'h',
        createdAt: now,
        exited: false,
        exitCode: 0,
        exitSignal: '',
      });
      const both = jobsTable([job('p', 'process', {}), job('s', 'slurm', { slurmJobId: '42' })], now).split('\n');
      assert.match(both[0], /^JOB\s+TYPE\s+SLURM\s+PID\s+STATUS\s+GPU/);
      assert.match(both[1], /^p\s+process\s+7\s+running/);
      assert.match(both[2], /^s\s+slurm\s+42\s+7\s+running/);
      assert.equal(both[2].indexOf('42'), both[0].indexOf('SLURM'));
      const none = jobsTable([job('p', 'process', {}), job('q', 'process', { pid: 3 })], now).split('\n');
      assert.doesNotMatch(none[0], /SLURM/);
    });
  });

  describe('keyValues', function () {
    it('prints nested objects indented and skips empty values', function () {
      assert.equal(keyValues({ jid: 'a', empty: '', none: undefined, n: 0, details: { cmdline: ['sleep', '1'], pid: 3 } }), ['jid: a', 'n: 0', 'details:', '  cmdline: ["sleep","1"]', '  pid: 3'].join('\n'));
    });

    it('quotes the strings YAML would read as something else', function () {
      assert.equal(keyValues({ a: '123', b: 'true', c: 'x: y', d: 'plain text', e: '/var/log/x.log', f: '-x' }), ['a: "123"', 'b: "true"', 'c: "x: y"', 'd: plain text', 'e: /var/log/x.log', 'f: "-x"'].join('\n'));
    });
  });
});
