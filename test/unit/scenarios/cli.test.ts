// The CLI as CI runs it: the real bundle (built here with esbuild, as scripts/build.mjs builds dist/cli.js) in a child
// process, on files in a temporary folder, against a ws server on loopback. The JUnit file is read back by Python's
// XML parser, an independent one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { startWsChatServer, type WsChatServer } from '../../support/wsChatServer';
import { PYTHON } from '../../support/pythonWebsockets';

let chat: WsChatServer;
let dir: string;
const cli = resolve('out', `cli-test-${process.pid}`, 'cli.js');

before(async () => {
  await esbuild.build({ entryPoints: ['src/cli/main.ts'], outfile: cli, bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['bufferutil', 'utf-8-validate'], logLevel: 'warning' });
  chat = await startWsChatServer();
  dir = mkdtempSync(join(tmpdir(), 'wsx-cli-'));
  mkdirSync(join(dir, 'suite'));
  writeFileSync(join(dir, 'ci.env'), `CHAT_URL=${chat.url}\nCHAT_KEY=k3y-that-is-secret\n`);
  writeFileSync(
    join(dir, 'suite', 'pass.wsx.yaml'),
    ['endpoints: { chat: "${env:CHAT_URL}/room?key=${secret:CHAT_KEY}" }', 'scenarios:', '  hello:', '    - connect: chat', '    - expect: { json: { type: welcome } }', '    - send: { text: "echo:hi ${secret:CHAT_KEY}" }', '    - expect: { regex: ^hi }', '  whoami:', '    - connect: chat', '    - send: { json: { type: whoami } }', '    - expect: { json: { type: you }, allowOthers: true }', ''].join('\n'),
  );
  writeFileSync(
    join(dir, 'suite', 'fail.wsx.json'),
    JSON.stringify({ endpoints: { chat: '${env:CHAT_URL}/room' }, scenarios: { 'passes first': [{ connect: 'chat' }], 'times out': [{ connect: 'chat' }, { expect: { text: 'never & <ever>', allowOthers: true, within: 150 } }] } }, null, 2),
  );
  writeFileSync(join(dir, 'broken.wsx.yaml'), 'scenarios:\n  s:\n    - sned: x\n');
});

after(async () => {
  await chat.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(resolve('out', `cli-test-${process.pid}`), { recursive: true, force: true });
});

/** Runs the CLI in the temporary folder; resolves with its exit code and output (never rejects). */
function cliRun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [cli, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

interface JUnitCase {
  suite: string;
  name: string;
  line: string;
  failure?: string;
  body?: string;
}

/** The JUnit file as Python's xml.etree reads it; fails on XML that is not well-formed. */
function readJUnit(path: string): Promise<{ tests: string; failures: string; cases: JUnitCase[] }> {
  const script = [
    'import json, sys, xml.etree.ElementTree as ET',
    'root = ET.parse(sys.argv[1]).getroot()',
    'cases = []',
    'for s in root.iter("testsuite"):',
    '    for c in s.iter("testcase"):',
    '        f = c.find("failure")',
    '        cases.append({"suite": s.get("name"), "name": c.get("name"), "line": c.get("line"), **({"failure": f.get("message"), "body": f.text} if f is not None else {})})',
    'print(json.dumps({"tests": root.get("tests"), "failures": root.get("failures"), "cases": cases}))',
  ].join('\n');
  return new Promise((resolvePromise, reject) => {
    execFile(PYTHON, ['-c', script, path], (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolvePromise(JSON.parse(stdout))));
  });
}

describe('ws-inspector test', () => {
  test('a passing file exits 0 with one line per scenario and a summary', async () => {
    const r = await cliRun('test', 'suite/pass.wsx.yaml', '--env-file', 'ci.env');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^✓ suite\/pass\.wsx\.yaml › hello \(\d+ ms\)$/);
    assert.match(lines[1], /^✓ suite\/pass\.wsx\.yaml › whoami \(\d+ ms\)$/);
    assert.match(lines.at(-1)!, /^Scenarios in 1 file: 2 passed, 0 failed \(\d+\.\d s\)$/);
  });

  test('a failing file exits 1 and names the step, its line, and what was expected', async () => {
    const r = await cliRun('test', 'suite/fail.wsx.json', '--env-file', 'ci.env');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^✓ suite\/fail\.wsx\.json › passes first/m);
    assert.match(r.stdout, /^✗ suite\/fail\.wsx\.json › times out \(\d+ ms\)\n {4}step 2 expect on chat \(line 15\): timed out after 150 ms waiting on "chat" for the expected message: 1 other message came and was skipped\n {6}expected:\n {8}never & <ever>/m);
    assert.match(r.stdout, /1 passed, 1 failed/);
  });

  test('--reporter junit writes well-formed JUnit: one testcase per scenario, a failure naming the step', async () => {
    const r = await cliRun('test', 'suite', '--env-file', 'ci.env', '--reporter', 'junit', '--output', 'report/junit.xml');
    assert.equal(r.code, 1);
    const j = await readJUnit(join(dir, 'report', 'junit.xml'));
    assert.deepEqual([j.tests, j.failures], ['4', '1']);
    assert.deepEqual(j.cases.map((c) => `${c.suite} › ${c.name} @${c.line}${c.failure ? ' FAILED' : ''}`), [
      'suite/fail.wsx.json › passes first @6',
      'suite/fail.wsx.json › times out @11 FAILED',
      'suite/pass.wsx.yaml › hello @3',
      'suite/pass.wsx.yaml › whoami @8',
    ]);
    const failed = j.cases.find((c) => c.failure)!;
    assert.match(failed.failure!, /^step 2 expect on chat \(line 15\): timed out after 150 ms/);
    assert.match(failed.body!, /expected:\nnever & <ever>\n\nactual:\n\{\n {2}"type": "welcome"/);
  });

  test('--export writes every frame of the run as NDJSON, with the secret replaced', async () => {
    const r = await cliRun('test', 'suite/pass.wsx.yaml', '--env-file', 'ci.env', '--export', 'run.ndjson');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const text = readFileSync(join(dir, 'run.ndjson'), 'utf8');
    assert.ok(!text.includes('k3y-that-is-secret') && !r.stdout.includes('k3y-that-is-secret'));
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; direction?: string; meta?: Record<string, string>; data?: { base64: string } });
    const messages = events.filter((e) => e.kind === 'message').map((e) => `${e.direction} ${Buffer.from(e.data!.base64, 'base64').toString()}`);
    assert.ok(messages.includes('c2s echo:hi ******************'), messages.join('\n'));
    assert.deepEqual(events.filter((e) => e.kind === 'connection' && e.meta?.step?.startsWith('1 ')).map((e) => e.meta!.scenario), ['hello', 'whoami']);
  });

  test('a file with errors is reported at its lines and fails; no file at all is a usage error', async () => {
    const r = await cliRun('test', 'broken.wsx.yaml');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^broken\.wsx\.yaml:3:7: error WSX_UNKNOWN_STEP unknown step "sned"/m);
    const none = await cliRun('test', 'nothing/*.wsx.yaml');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no scenario files/);
    const usage = await cliRun('test', '--reporter', 'tap');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--reporter is spec or junit/);
  });

  test('globs pick the scenario files', async () => {
    const r = await cliRun('test', '**/pass.wsx.*', '--env-file', 'ci.env');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Scenarios in 1 file: 2 passed/);
  });
});
