// SPDX-License-Identifier: MIT
// The handlebars.js side of the template benchmark (run.sh drives it):
// `data PAYLOAD` prints the variables both engines render, `run` times
// ticket.hbs in html and text modes, `report DIR` compares the engines.
'use strict';

const fs = require('fs');
const path = require('path');

// The execution variables Moonwire would build for an update share of the
// incident: the payload, metadata, integration settings and a saved ID.
function buildData(payloadFile) {
  const incident = JSON.parse(fs.readFileSync(payloadFile, 'utf8'));
  return {
    incident,
    metadata: {event_type: 'incident#updated', firstTime: false,
      incident_id: incident.id},
    integration: {base_url: 'https://example.service-now.com',
      caller_id: 'moonwire.integration', assignment_group: 'Site Reliability',
      category: 'software'},
    externalId: {sys_id: '9d385017c611228701d22104cc95c371'},
  };
}

const PAD2 = Array.from({length: 100}, (_, i) => String(i).padStart(2, '0'));

const FIELDS = {
  Y: (d) => String(d.getUTCFullYear()).padStart(4, '0'),
  m: (d) => PAD2[d.getUTCMonth() + 1], d: (d) => PAD2[d.getUTCDate()],
  H: (d) => PAD2[d.getUTCHours()], M: (d) => PAD2[d.getUTCMinutes()],
  S: (d) => PAD2[d.getUTCSeconds()], '%': () => '%',
};

// A format compiled once into literal texts and field functions, as
// Moonwire's date.lua does, so that both engines pay the same for dates.
const formats = new Map();
function compileFormat(fmt) {
  const parts = fmt.split(/(%.)/).filter((p) => p !== '')
    .map((p) => (p[0] === '%' && FIELDS[p[1]]) || p);
  formats.set(fmt, parts);
  return parts;
}

// The subset of Moonwire's `date` the template uses: epoch seconds, UTC.
function formatDate(seconds, fmt) {
  const d = new Date(seconds * 1000);
  const parts = formats.get(fmt) || compileFormat(fmt);
  let out = '';
  for (const p of parts) out += typeof p === 'string' ? p : p(d);
  return out;
}

// Helpers that behave as Moonwire's built-ins do on this data, so that the
// two engines do the same work and their outputs can be compared.
function registerHelpers(hb) {
  hb.registerHelper('upper', (v) => (v == null ? v : String(v).toUpperCase()));
  hb.registerHelper('eq', (a, b) => a === b);
  hb.registerHelper('json', (v) => JSON.stringify(v === undefined ? null : v));
  hb.registerHelper('default', (...args) => {
    args.pop();
    return args.find((v) => v != null && v !== '');
  });
  hb.registerHelper('truncate', (s, n, suffix) => {
    const chars = Array.from(String(s));
    return chars.length <= n ? s : chars.slice(0, n).join('') + suffix;
  });
  hb.registerHelper('date', function (v, fmt) {
    if (v == null) return v;
    const format = arguments.length > 2 ? fmt : '%Y-%m-%dT%H:%M:%SZ';
    return formatDate(v, format);
  });
}

// Returns the renders/s of fn: a warm-up, then `rounds` timed rounds of about
// `seconds` each; the best round counts: other work on the machine only
// ever slows a round down.
function measure(fn, seconds, rounds) {
  const budget = BigInt(Math.round(seconds * 1e9));
  const rates = [];
  for (let r = -1; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    let n = 0;
    let dt;
    do {
      fn();
      n++;
      dt = process.hrtime.bigint() - t0;
    } while (dt < budget);
    if (r >= 0) rates.push(n / (Number(dt) / 1e9));
  }
  return Math.max(...rates);
}

function run() {
  const env = process.env;
  const Handlebars = require('handlebars');
  const data = JSON.parse(fs.readFileSync(env.BENCH_DATA, 'utf8'));
  const source = fs.readFileSync(env.BENCH_TEMPLATE, 'utf8');
  const seconds = Number(env.BENCH_SECONDS || 1);
  const rounds = Number(env.BENCH_ROUNDS || 5);
  const hb = Handlebars.create();
  registerHelpers(hb);
  const result = {engine: 'handlebars.js', version: Handlebars.VERSION,
    node: process.version};
  for (const mode of ['html', 'text']) {
    const tpl = hb.compile(source, {noEscape: mode === 'text'});
    const out = tpl(data);
    fs.writeFileSync(path.join(env.BENCH_OUT, `handlebars.${mode}`), out);
    result[mode] = measure(() => tpl(data), seconds, rounds);
  }
  // What a handlebars.js user does to get a value out of a JSON template.
  const text = hb.compile(source, {noEscape: true});
  result.text_parse = measure(() => JSON.parse(text(data)), seconds, rounds);
  process.stdout.write(JSON.stringify(result) + '\n');
}

// One result line per pass; each mode keeps its best figure.
function readResult(dir, name) {
  const lines = fs.readFileSync(path.join(dir, name + '.result'), 'utf8')
    .split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const best = lines[0];
  for (const r of lines) {
    for (const k of Object.keys(r)) {
      if (typeof r[k] === 'number' && r[k] > best[k]) best[k] = r[k];
    }
  }
  return best;
}

// Prints the table and returns false when the engines' outputs differ.
function report(dir) {
  const mw = readResult(dir, 'moonwire');
  const hb = readResult(dir, 'handlebars');
  const read = (name) => fs.readFileSync(path.join(dir, name), 'utf8');
  const same = {
    html: read('moonwire.html') === read('handlebars.html'),
    text: read('moonwire.text') === read('handlebars.text'),
    json: JSON.stringify(JSON.parse(read('moonwire.json')))
      === JSON.stringify(JSON.parse(read('handlebars.text'))),
  };
  const rows = [['html', 'html'], ['text', 'text'], ['json', 'text'],
    ['json_value', 'text_parse']];
  console.log(`moonwire ${mw.version}, handlebars.js ${hb.version} on node `
    + `${hb.node}: renders/s, best of ${process.env.BENCH_ROUNDS} rounds `
    + `in each of ${process.env.BENCH_PASSES} passes`);
  console.log('mode        moonwire  handlebars.js   ratio  same output');
  for (const [mode, other] of rows) {
    const ratio = (mw[mode] / hb[other]).toFixed(2);
    const note = mode === other ? (same[mode] ? 'yes' : 'NO')
      : `vs handlebars ${other.replace('_parse', ' + JSON.parse')}`
        + (mode === 'json' ? (same.json ? ', same value' : ', DIFFERENT value')
          : '');
    console.log(`${mode.padEnd(10)} ${mw[mode].toFixed(0).padStart(9)} `
      + `${hb[other].toFixed(0).padStart(14)} ${ratio.padStart(6)}x  ${note}`);
  }
  return same.html && same.text && same.json;
}

if (process.argv[2] === 'data') {
  process.stdout.write(JSON.stringify(buildData(process.argv[3])) + '\n');
} else if (process.argv[2] === 'run') {
  run();
} else if (process.argv[2] === 'report') {
  process.exitCode = report(process.argv[3]) ? 0 : 1;
} else {
  process.stderr.write('usage: node bench.js data PAYLOAD | run | report DIR'
    + '\n');
  process.exit(2);
}
