// Validates deploy/asyncapi.yaml, the message contract (DESIGN.md sections
// 3 and 4):
//   1. @asyncapi/parser with its built-in Spectral ruleset (schema, refs,
//      bindings, message examples against payload and headers schemas);
//      errors fail, warnings and hints are printed;
//   2. the topology: every exchange, queue, argument, binding and routing key
//      of DESIGN.md section 3 is named, with its type (EXPECTED below);
//   3. the field lists of the request, resume and decision schemas
//      (include/core/qf/request.h, common/core/decision.c);
//   4. every example (message payloads and headers, AMQP property examples)
//      against its schema with Ajv (JSON Schema 2020-12, byte limits
//      x-qf-max-bytes enforced), and bodies that request.h refuses must be
//      refused by the schema too;
//   5. when QF_BIN names a built `qf`, real `qf run --dry-run --json` output
//      and the evidence file it writes against the Decision and Evidence
//      schemas (so the pipeline and the contract cannot drift apart).
// Usage: node validate.mjs [path/to/asyncapi.yaml]. Exit 0 valid, 1 invalid.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Parser, fromFile } from '@asyncapi/parser';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const docPath = path.resolve(process.argv[2] ?? path.join(repo, 'deploy', 'asyncapi.yaml'));

let errors = 0;
let warnings = 0;
const fail = (msg) => { errors++; console.log(`  error: ${msg}`); };
const ok = (msg) => console.log(`  ok: ${msg}`);
const section = (title) => console.log(`\n-- ${title}`);

// ------------------------------------------------------------- expectations
// DESIGN.md section 3, spelled out: change it here and in the document (and
// the worker, README and tests) in the same commit.
const EXPECTED = {
  exchanges: {
    'qf.requests': { type: 'direct', routingKeys: ['run', 'resume'] },
    'qf.decisions': { type: 'topic', routingKeys: ['decision.pass', 'decision.fail', 'decision.need_hitl'] },
    'qf.evidence': { type: 'topic', routingKeys: ['evidence.pass', 'evidence.fail', 'evidence.need_hitl'] },
    'qf.dead': { type: 'fanout', routingKeys: [] },
  },
  queues: {
    'qf.orchestrations': {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 3, 'x-dead-letter-exchange': 'qf.dead' },
      bindings: [['qf.requests', 'run'], ['qf.requests', 'resume']],
      messages: ['OrchestrationRequest', 'ResumeRequest'],
    },
    'qf.orchestrations.dead': { durable: true, bindings: [['qf.dead', '']], messages: ['DeadLetter'] },
    'qf.hitl': { durable: true, bindings: [['qf.decisions', 'decision.need_hitl']], messages: ['Decision'] },
  },
  // The submitter's reply_to queue: exclusive and server-named (name "").
  replyQueue: { channel: '{reply_to}', exclusive: true, messages: ['Decision'] },
  // Which message each exchange carries.
  exchangeMessages: {
    'qf.requests': ['OrchestrationRequest', 'ResumeRequest'],
    'qf.decisions': ['Decision'],
    'qf.evidence': ['Evidence'],
    'qf.dead': ['DeadLetter'],
  },
  messages: ['OrchestrationRequest', 'ResumeRequest', 'Decision', 'Evidence', 'DeadLetter'],
  // Payload fields: [all properties, required ones].
  fields: {
    OrchestrationRequest: [['nl_input', 'environment_id', 'options', 'requested_by', 'workspace', 'source'], ['nl_input']],
    ResumeRequest: [['run_id', 'approval_id'], ['run_id', 'approval_id']],
    Decision: [
      ['run_id', 'decision', 'reason', 'triggered_rules', 'decided_by', 'policy_version', 'policy_hash',
        'final', 'approval_id', 'summary', 'evidence_path', 'evidence_url', 'correlation_id',
        'failures', 'failures_total', 'source', 'evidence'],
      ['run_id', 'decision', 'reason', 'triggered_rules', 'decided_by', 'policy_version', 'policy_hash',
        'final', 'approval_id', 'summary', 'evidence_path', 'correlation_id'],
    ],
  },
  optionsFields: ['tool_name', 'args', 'timeout_s', 'dry_run'],
  decisionEnum: ['PASS', 'FAIL', 'NEED_HITL'],
  decidedByEnum: ['gate', 'budget', 'approval', 'expiry', 'refused', 'error'],
  deadLetterHeader: 'x-qf-error',
};

// Bodies request.h refuses (the first problem it reports, for the reader) and
// bodies it accepts: the OrchestrationRequest schema must agree on each.
const REQUESTS_REFUSED = [
  [{}, 'nl_input: missing'],
  [{ nl_input: '' }, 'nl_input: must not be empty'],
  [{ nl_input: 'x'.repeat(8193) }, 'nl_input: must be at most 8192 bytes'],
  [{ nl_input: 'é'.repeat(4097) }, 'nl_input: must be at most 8192 bytes (8194 bytes of UTF-8)'],
  [{ nl_input: 'a\u0000b' }, 'body: \\u0000'],
  [{ nl_input: 7 }, 'nl_input: must be a string'],
  [{ nl_input: 'x', color: 'blue' }, 'color: unknown key'],
  [{ nl_input: 'x', environment_id: 'not-a-uuid' }, 'environment_id: must be a UUID'],
  [{ nl_input: 'x', environment_id: 12 }, 'environment_id: must be a string or null'],
  [{ nl_input: 'x', options: 'fast' }, 'options: must be an object or null'],
  [{ nl_input: 'x', options: { tool: 'run_pytest' } }, 'options.tool: unknown key'],
  [{ nl_input: 'x', options: { tool_name: 'Run-Pytest' } }, 'options.tool_name: must contain only a-z, 0-9 and _'],
  [{ nl_input: 'x', options: { tool_name: 'run-pytest' } }, 'options.tool_name: must contain only a-z, 0-9 and _'],
  [{ nl_input: 'x', options: { tool_name: 'a'.repeat(65) } }, 'options.tool_name: must be at most 64 bytes'],
  [{ nl_input: 'x', options: { tool_name: '' } }, 'options.tool_name: must not be empty'],
  [{ nl_input: 'x', options: { args: [] } }, 'options.args: must be an object'],
  [{ nl_input: 'x', options: { timeout_s: 0 } }, 'options.timeout_s: must be an integer from 1 to 3600'],
  [{ nl_input: 'x', options: { timeout_s: 3601 } }, 'options.timeout_s: must be an integer from 1 to 3600'],
  [{ nl_input: 'x', options: { timeout_s: 1.5 } }, 'options.timeout_s: must be an integer from 1 to 3600'],
  [{ nl_input: 'x', options: { timeout_s: '60' } }, 'options.timeout_s: must be an integer from 1 to 3600'],
  [{ nl_input: 'x', options: { dry_run: 'yes' } }, 'options.dry_run: must be a boolean'],
  [{ nl_input: 'x', requested_by: '' }, 'requested_by: must not be empty'],
  [{ nl_input: 'x', requested_by: 'a\nb' }, 'requested_by: must not contain control characters'],
  [{ nl_input: 'x', requested_by: 'a\u0085b' }, 'requested_by: must not contain control characters (C1)'],
  [{ nl_input: 'x', requested_by: 'é'.repeat(129) }, 'requested_by: must be at most 256 bytes'],
  [{ nl_input: 'x', workspace: '/etc' }, 'workspace: must be a relative path'],
  [{ nl_input: 'x', workspace: '..' }, 'workspace: must not contain a ".." component'],
  [{ nl_input: 'x', workspace: 'a/../b' }, 'workspace: must not contain a ".." component'],
  [{ nl_input: 'x', workspace: 'a/..' }, 'workspace: must not contain a ".." component'],
  [{ nl_input: 'x', workspace: 'a\tb' }, 'workspace: must not contain control characters'],
  [{ nl_input: 'x', workspace: 'x'.repeat(4097) }, 'workspace: must be at most 4096 bytes'],
  [{ nl_input: 'x', source: { repo: 'https://h/r.git' } }, 'source: needs exactly one of commit and ref'],
  [{ nl_input: 'x', source: { repo: 'https://h/r.git', commit: 'abc' } }, 'source.commit: must be a full 40-digit commit id'],
  [{ nl_input: 'x', source: { repo: 'https://h/r.git', commit: 'a'.repeat(40), ref: 'main' } }, 'source: needs exactly one of commit and ref'],
  [{ nl_input: 'x', source: { repo: 'https://h/r.git', ref: 'a..b' } }, 'source.ref: is not a valid git ref name'],
  [{ nl_input: 'x', source: { repo: 'https://h/r.git', ref: '-x' } }, 'source.ref: is not a valid git ref name'],
  [{ nl_input: 'x', source: { repo: 'https://h/a b', ref: 'main' } }, 'source.repo: must not contain spaces'],
  [{ nl_input: 'x', source: { repo: 'https://h/r.git', ref: 'main', path: 'x' } }, 'source.path: unknown key'],
  [[], 'body: must be a JSON object'],
];
const REQUESTS_ACCEPTED = [
  { nl_input: 'x' },
  { nl_input: 'é'.repeat(4096) },
  { nl_input: 'x'.repeat(8192) },
  { nl_input: 'line one\nline two\ttab' },
  { nl_input: 'x', environment_id: null, options: null, requested_by: null, workspace: null },
  { nl_input: 'x', environment_id: '3F1C2B9E-8D7A-4C61-9B0E-5A4D3C2B1A09' },
  { nl_input: 'x', options: {} },
  { nl_input: 'x', options: { tool_name: 'run_pytest', args: { k: [1, { a: null }] }, timeout_s: 3600, dry_run: true } },
  { nl_input: 'x', options: { timeout_s: 10.0 } },
  { nl_input: 'x', workspace: 'a/..b/c..' },
  { nl_input: 'x', workspace: './services/x' },
  { nl_input: 'x', requested_by: 'ci:payments/main#1234' },
  { nl_input: 'x', source: { repo: 'https://github.com/acme/shop.git', commit: 'A'.repeat(40) } },
  { nl_input: 'x', source: { repo: 'git@github.com:acme/shop.git', ref: 'release/1.2' } },
  { nl_input: 'x', source: null },
];
const DECISION_BASE = {
  run_id: '14a37d52-a5f0-420a-95c6-22eae66b7314', decision: 'PASS', reason: 'r',
  triggered_rules: ['dry_run'], decided_by: 'gate', policy_version: '1.0',
  policy_hash: 'df47dad2d6e8ab3bbac607487993103c5140571ce24f464f8ff78688f062707b', final: true,
  approval_id: null, summary: { tests: 0, failures: 0, errors: 0, skipped: 0, passed: 0, time: 0 },
  evidence_path: null, correlation_id: null,
};
const DECISIONS_REFUSED = [
  [{ ...DECISION_BASE, final: false }, 'PASS must be final'],
  [{ ...DECISION_BASE, decision: 'NEED_HITL' }, 'NEED_HITL is not final'],
  [{ ...DECISION_BASE, decision: 'pass' }, 'decision enum'],
  [{ ...DECISION_BASE, decided_by: 'human' }, 'decided_by enum'],
  [{ ...DECISION_BASE, triggered_rules: [] }, 'a rule decided'],
  [{ ...DECISION_BASE, extra: 1 }, 'unknown field'],
  [(({ correlation_id, ...d }) => d)(DECISION_BASE), 'correlation_id is always present'],
];
const RESUMES_REFUSED = [
  [{ run_id: DECISION_BASE.run_id }, 'approval_id missing'],
  [{ run_id: 'x', approval_id: DECISION_BASE.run_id }, 'run_id not a UUID'],
  [{ run_id: DECISION_BASE.run_id, approval_id: 'x' }, 'approval_id not a UUID'],
  [{ run_id: DECISION_BASE.run_id, approval_id: DECISION_BASE.run_id, extra: 1 }, 'unknown key'],
];

// ---------------------------------------------------------------- 1. parser
section(`parser: ${path.relative(process.cwd(), docPath) || docPath}`);
const SEVERITY = ['error', 'warning', 'info', 'hint'];
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, docPath).parse();
for (const d of diagnostics) {
  const sev = SEVERITY[d.severity] ?? String(d.severity);
  const line = d.range?.start ? `:${d.range.start.line + 1}` : '';
  console.log(`  ${sev}: ${d.code} at ${d.path.join('.') || '(root)'}${line}: ${d.message}`);
  if (d.severity === 0) errors++;
  else if (d.severity === 1) warnings++;
}
if (!document) {
  console.log(`\nFAILED: the parser produced no document (${errors} errors)`);
  process.exit(1);
}
ok(`parsed AsyncAPI ${document.version()} (${diagnostics.length} diagnostics)`);

const doc = document.json();
const channels = doc.channels ?? {};
const messages = doc.components?.messages ?? {};
const schemas = doc.components?.schemas ?? {};

// -------------------------------------------------------------- 2. topology
section('topology (DESIGN.md section 3)');
const amqp = (c) => c?.bindings?.amqp ?? {};
const msgNames = (op) => {
  const m = op?.message;
  if (!m) return [];
  return (m.oneOf ?? [m]).map((x) => x.name);
};
const opsMessages = (c) => [...msgNames(c.publish), ...msgNames(c.subscribe)];
const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

for (const [name, want] of Object.entries(EXPECTED.exchanges)) {
  const chans = Object.entries(channels).filter(([, c]) => amqp(c).is === 'routingKey' && amqp(c).exchange?.name === name);
  if (chans.length === 0) { fail(`exchange ${name}: no channel binds it`); continue; }
  for (const [cname, c] of chans) {
    const ex = amqp(c).exchange;
    if (ex.type !== want.type) fail(`exchange ${name} (channel ${cname}): type ${ex.type}, want ${want.type}`);
    if (ex.durable !== true) fail(`exchange ${name} (channel ${cname}): not durable`);
  }
  const keys = new Set();
  for (const [, c] of chans) {
    const b = amqp(c);
    if (b['x-routing-key'] !== undefined) keys.add(b['x-routing-key']);
    for (const k of b['x-routing-keys'] ?? []) keys.add(k);
  }
  for (const k of want.routingKeys) if (!keys.has(k)) fail(`exchange ${name}: routing key ${k} not described`);
  for (const k of keys) if (!want.routingKeys.includes(k)) fail(`exchange ${name}: routing key ${k} is not in the contract list`);
  const carried = new Set(chans.flatMap(([, c]) => opsMessages(c)));
  if (!same(carried, EXPECTED.exchangeMessages[name])) {
    fail(`exchange ${name}: carries ${[...carried].join(', ') || 'nothing'}, want ${EXPECTED.exchangeMessages[name].join(', ')}`);
  }
  ok(`exchange ${name} (${want.type}, durable)${want.routingKeys.length ? ': ' + want.routingKeys.join(', ') : ''}`);
}
// Parameterised routing keys ({decision}) must list their values.
for (const [cname, c] of Object.entries(channels)) {
  for (const [p, def] of Object.entries(c.parameters ?? {})) {
    if (amqp(c).is === 'routingKey' && !Array.isArray(def.schema?.enum)) fail(`channel ${cname}: parameter ${p} has no enum`);
  }
  const b = amqp(c);
  if (b.is === 'routingKey' && cname.includes('{')) {
    const p = Object.values(c.parameters ?? {})[0];
    const expanded = (p?.schema?.enum ?? []).map((v) => cname.replace(/^.*\//, '').replace(/\{[^}]+\}/, v));
    if (!same(expanded, b['x-routing-keys'] ?? [])) fail(`channel ${cname}: parameter values ${expanded} differ from x-routing-keys`);
  }
}

for (const [name, want] of Object.entries(EXPECTED.queues)) {
  const found = Object.entries(channels).filter(([, c]) => amqp(c).is === 'queue' && amqp(c).queue?.name === name);
  if (found.length !== 1) { fail(`queue ${name}: ${found.length} channels describe it, want 1`); continue; }
  const [cname, c] = found[0];
  const b = amqp(c);
  if (b.queue.durable !== want.durable) fail(`queue ${name}: durable ${b.queue.durable}`);
  if (b.queue.exclusive) fail(`queue ${name}: exclusive`);
  const args = b['x-arguments'] ?? {};
  if (JSON.stringify(args) !== JSON.stringify(want.arguments ?? {})) {
    fail(`queue ${name}: arguments ${JSON.stringify(args)}, want ${JSON.stringify(want.arguments ?? {})}`);
  }
  const binds = (b['x-bindings'] ?? []).map((x) => [x.exchange, x.routingKey]);
  if (!same(binds.map(String), want.bindings.map(String))) {
    fail(`queue ${name}: bindings ${JSON.stringify(binds)}, want ${JSON.stringify(want.bindings)}`);
  }
  for (const [ex] of want.bindings) if (!EXPECTED.exchanges[ex]) fail(`queue ${name}: bound to unknown exchange ${ex}`);
  if (!same(opsMessages(c), want.messages)) fail(`queue ${name} (channel ${cname}): carries ${opsMessages(c)}, want ${want.messages}`);
  ok(`queue ${name}${want.arguments ? ' ' + JSON.stringify(want.arguments) : ''} <- ${want.bindings.map(([e, k]) => `${e}${k ? ':' + k : ''}`).join(', ')}`);
}
{
  const want = EXPECTED.replyQueue;
  const c = channels[want.channel];
  const q = amqp(c).queue;
  if (!c || amqp(c).is !== 'queue' || !q) fail(`reply queue: channel ${want.channel} missing or not a queue`);
  else {
    if (q.exclusive !== true) fail('reply queue: not exclusive');
    if (q.name !== '' || amqp(c)['x-server-named'] !== true) fail('reply queue: not server-named (name "" and x-server-named)');
    if (!same(opsMessages(c), want.messages)) fail(`reply queue: carries ${opsMessages(c)}`);
    ok('reply_to queue (exclusive, server-named) <- default exchange: Decision');
  }
}
// Nothing undeclared: every channel is one of the above.
for (const [cname, c] of Object.entries(channels)) {
  const b = amqp(c);
  const known = b.is === 'queue'
    ? EXPECTED.queues[b.queue?.name] || cname === EXPECTED.replyQueue.channel
    : EXPECTED.exchanges[b.exchange?.name];
  if (!known) fail(`channel ${cname}: not an exchange or queue of the contract`);
}

// ---------------------------------------------------------------- 3. fields
section('message fields (request.h, pipeline.c)');
for (const m of EXPECTED.messages) {
  if (!messages[m]) fail(`message ${m}: missing from components.messages`);
  else if (!Array.isArray(messages[m].examples) || messages[m].examples.length === 0) fail(`message ${m}: no examples`);
  else if (messages[m].contentType !== undefined && messages[m].contentType !== 'application/json') fail(`message ${m}: contentType ${messages[m].contentType}`);
}
for (const m of Object.keys(messages)) if (!EXPECTED.messages.includes(m)) fail(`message ${m}: not in the contract list`);
for (const [m, [props, required]] of Object.entries(EXPECTED.fields)) {
  const s = messages[m]?.payload ?? {};
  const have = Object.keys(s.properties ?? {});
  if (!same(have, props)) fail(`${m}: properties ${have.join(', ')}; want ${props.join(', ')}`);
  if (!same(s.required ?? [], required)) fail(`${m}: required ${(s.required ?? []).join(', ')}; want ${required.join(', ')}`);
  if (s.additionalProperties !== false) fail(`${m}: additionalProperties must be false`);
  else ok(`${m}: ${props.join(', ')}`);
}
{
  const req = messages.OrchestrationRequest?.payload?.properties ?? {};
  const opt = Object.keys(req.options?.properties ?? {});
  if (!same(opt, EXPECTED.optionsFields) || req.options?.additionalProperties !== false) fail(`OrchestrationRequest.options: ${opt}`);
  const d = messages.Decision?.payload?.properties ?? {};
  if (!same(d.decision?.enum ?? [], EXPECTED.decisionEnum)) fail(`Decision.decision enum ${d.decision?.enum}`);
  if (!same(d.decided_by?.enum ?? [], EXPECTED.decidedByEnum)) fail(`Decision.decided_by enum ${d.decided_by?.enum}`);
  const h = messages.DeadLetter?.headers?.properties ?? {};
  if (!h[EXPECTED.deadLetterHeader]) fail(`DeadLetter: no ${EXPECTED.deadLetterHeader} header`);
  const ev = messages.Evidence?.payload ?? {};
  if (ev.$id !== 'https://qualityfoundry.dev/schemas/qf-worker/evidence.v1.json') fail('Evidence: payload is not schemas/evidence.v1.schema.json');
  ok(`options ${EXPECTED.optionsFields.join(', ')}; decision ${EXPECTED.decisionEnum.join('|')}; decided_by ${EXPECTED.decidedByEnum.join('|')}; DeadLetter ${EXPECTED.deadLetterHeader}; Evidence = evidence.v1`);
}

// -------------------------------------------------------------- 4. examples
section('examples against their schemas (Ajv, JSON Schema 2020-12)');
// The parser adds x-parser-* keys; strict mode would refuse them.
function newAjv() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword({
    keyword: 'x-qf-max-bytes',
    type: 'string',
    schemaType: 'number',
    error: { message: (cxt) => `must be at most ${cxt.schema} bytes of UTF-8` },
    validate: (max, data) => Buffer.byteLength(data, 'utf8') <= max,
  });
  return ajv;
}
const compiled = new Map();
function validator(key, schema) {
  if (!compiled.has(key)) compiled.set(key, newAjv().compile(schema)); // one Ajv each: $ids repeat
  return compiled.get(key);
}
const explain = (v) => (v.errors ?? []).slice(0, 4).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
let checked = 0;
for (const [m, msg] of Object.entries(messages)) {
  for (const [i, ex] of (msg.examples ?? []).entries()) {
    const label = `${m} example ${ex.name ?? i}`;
    if (ex.payload !== undefined && msg.payload) {
      const v = validator(`${m}.payload`, msg.payload);
      if (v(ex.payload)) checked++; else fail(`${label}: payload: ${explain(v)}`);
    }
    if (ex.headers !== undefined) {
      if (!msg.headers) fail(`${label}: headers given but the message has no headers schema`);
      else {
        const v = validator(`${m}.headers`, msg.headers);
        if (v(ex.headers)) checked++; else fail(`${label}: headers: ${explain(v)}`);
      }
    }
  }
  const props = msg['x-amqp-properties'];
  if (!props) fail(`${m}: no x-amqp-properties`);
  else {
    if (!(props.examples ?? []).length) fail(`${m}: x-amqp-properties has no examples`);
    for (const ex of props.examples ?? []) {
      const v = validator(`${m}.properties`, props);
      if (v(ex)) checked++; else fail(`${m} AMQP properties example: ${explain(v)}`);
    }
  }
}
ok(`${checked} examples valid`);

section('request.h rules: bodies the worker refuses and accepts');
{
  const vReq = validator('OrchestrationRequest.payload', messages.OrchestrationRequest.payload);
  let n = 0;
  for (const [body, why] of REQUESTS_REFUSED) if (vReq(body)) fail(`schema accepts a refused request (${why}): ${JSON.stringify(body).slice(0, 80)}`); else n++;
  for (const body of REQUESTS_ACCEPTED) if (!vReq(body)) fail(`schema refuses a valid request ${JSON.stringify(body).slice(0, 80)}: ${explain(vReq)}`); else n++;
  const vDec = validator('Decision.payload', messages.Decision.payload);
  for (const [body, why] of DECISIONS_REFUSED) if (vDec(body)) fail(`Decision schema accepts: ${why}`); else n++;
  const vRes = validator('ResumeRequest.payload', messages.ResumeRequest.payload);
  for (const [body, why] of RESUMES_REFUSED) if (vRes(body)) fail(`ResumeRequest schema accepts: ${why}`); else n++;
  ok(`${n} cases agree (${REQUESTS_REFUSED.length} refused and ${REQUESTS_ACCEPTED.length} accepted requests, ${DECISIONS_REFUSED.length} decisions, ${RESUMES_REFUSED.length} resumes)`);
}

// ------------------------------------------------- 5. the real pipeline output
section('qf run output against the Decision and Evidence schemas');
const qf = process.env.QF_BIN;
if (!qf) {
  console.log('  skipped: QF_BIN is not set (validate.sh sets it when build/normal/qf exists)');
} else {
  const tmp = mkdtempSync(path.join(tmpdir(), 'qf-asyncapi-'));
  try {
    const artifacts = path.join(tmp, 'artifacts');
    mkdirSync(artifacts);
    const vDec = validator('Decision.payload', messages.Decision.payload);
    const vEv = validator('Evidence.payload', messages.Evidence.payload);
    for (const [nl, want, code] of [['run the unit tests', 'PASS', 0], ['deploy to prod tonight', 'NEED_HITL', 2]]) {
      const r = spawnSync(qf, ['run', '--nl', nl, '--dry-run', '--json', '--artifacts', artifacts,
        '--policy', path.join(repo, 'policy', 'default.yaml')],
      { cwd: tmp, encoding: 'utf8', timeout: 60000, env: { ...process.env, QF_WORKSPACE_ROOT: tmp, QF_LOG_LEVEL: 'off' } });
      if (r.status !== code) { fail(`qf run "${nl}": exit ${r.status} (want ${code}): ${r.error ?? r.stderr}`); continue; }
      let d;
      try { d = JSON.parse(r.stdout); } catch (e) { fail(`qf run "${nl}": not JSON: ${r.stdout.slice(0, 200)}`); continue; }
      if (d.decision !== want) fail(`qf run "${nl}": decision ${d.decision}, want ${want}`);
      if (!vDec(d)) fail(`qf run "${nl}": decision message: ${explain(vDec)}`);
      const ev = JSON.parse(readFileSync(d.evidence_path, 'utf8'));
      if (!vEv(ev)) fail(`qf run "${nl}": evidence: ${explain(vEv)}`);
      ok(`${path.basename(qf)} run "${nl}" -> ${d.decision}: decision message and evidence valid`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(`\n${errors ? 'FAILED' : 'OK'}: ${errors} errors, ${warnings} warnings`);
process.exit(errors ? 1 : 0);
