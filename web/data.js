// data.js - training/eval data in the formats people paste: JSONL, CSV, plain text.
//
// The C engine reads JSONL ({"text"} or {"input","output"} per line). This module turns the
// other formats into that, and finds problems early, with 1-based line numbers of the text
// the user gave:
//   jsonl : one JSON object per line; blank lines are skipped
//   csv   : RFC 4180 (quotes, "" escapes, newlines inside quotes); a header row naming the
//           columns text, or input and output (case-insensitive; other columns ignored)
//   tsv   : the same with tabs between fields. A header row is optional: without one, rows of
//           two fields are input, output (a spreadsheet's "copy" of two columns)
//   text  : examples separated by one or more blank lines
// Pure functions, no engine: used by the worker and exported to pages.

/** @typedef {{text: string} | {input: string, output: string}} Example */
/** @typedef {{line: number, message: string}} DataIssue */

const MAX_ERRORS = 100;

/**
 * @param {string | Example[]} data
 * @param {{format?: 'auto'|'jsonl'|'csv'|'text'}} [options]
 * @returns {{format: string, kind: string, examples: Example[], errors: DataIssue[], jsonl: string}}
 */
export function parseData(data, options = {}) {
  const format = options.format ?? 'auto';
  let res;
  if (Array.isArray(data)) {
    res = fromExamples(data);
  } else if (typeof data === 'string') {
    const text = data.charCodeAt(0) === 0xfeff ? data.slice(1) : data; // BOM
    const f = format === 'auto' ? detectFormat(text) : format;
    if (f === 'jsonl') res = parseJsonl(text);
    else if (f === 'csv') res = parseCsv(text);
    else if (f === 'tsv') res = parseTsv(text);
    else if (f === 'text') res = parseText(text);
    else throw new TypeError(`unknown data format '${format}' (auto, jsonl, csv, tsv, text)`);
  } else {
    throw new TypeError('data must be a string or an array of examples');
  }
  res.kind = kindOf(res.examples);
  res.jsonl = res.examples.map((e) => JSON.stringify(e)).join('\n') + (res.examples.length ? '\n' : '');
  return res;
}

/** 'jsonl' when the first non-blank line starts with '{', 'tsv' when the first lines all hold the
 *  same number (>= 2) of tab-separated fields, 'csv' when the first line is a header naming text
 *  or input+output columns, else 'text'. */
export function detectFormat(text) {
  const lines = text.slice(0, 65536).split(/\r?\n/).filter((l) => l.trim() !== '').slice(0, 5);
  const first = lines[0] ?? '';
  if (first.trimStart().startsWith('{')) return 'jsonl';
  const tabs = lines.map((l) => l.split('\t').length);
  if (tabs[0] >= 2 && tabs.every((n) => n === tabs[0])) return 'tsv';
  const header = splitCsvLine(first);
  if (header) {
    const cols = header.map((c) => c.trim().toLowerCase());
    if (cols.length >= 1 && (cols.includes('text') || (cols.includes('input') && cols.includes('output')))) return 'csv';
  }
  return 'text';
}

function kindOf(examples) {
  let t = 0;
  let io = 0;
  for (const e of examples) {
    if ('text' in e) t++;
    else io++;
  }
  if (io === 0) return 'text';
  if (t === 0) return 'input-output';
  return 'mixed';
}

function pushError(errors, line, message) {
  if (errors.length < MAX_ERRORS) errors.push({ line, message });
}

function checkExample(obj, line, errors) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    pushError(errors, line, 'expected a JSON object with "text", or "input" and "output"');
    return null;
  }
  if ('text' in obj) {
    if (typeof obj.text !== 'string') {
      pushError(errors, line, '"text" must be a string');
      return null;
    }
    if ('input' in obj || 'output' in obj) {
      pushError(errors, line, 'use either "text" or "input"/"output", not both');
      return null;
    }
    if (obj.text === '') {
      pushError(errors, line, '"text" is empty');
      return null;
    }
    return { text: obj.text };
  }
  if ('input' in obj || 'output' in obj) {
    if (typeof obj.input !== 'string' || typeof obj.output !== 'string') {
      pushError(errors, line, '"input" and "output" must both be strings');
      return null;
    }
    if (obj.output === '') {
      pushError(errors, line, '"output" is empty');
      return null;
    }
    return { input: obj.input, output: obj.output };
  }
  pushError(errors, line, 'needs "text", or "input" and "output"');
  return null;
}

function fromExamples(arr) {
  const examples = [];
  const errors = [];
  arr.forEach((obj, i) => {
    const e = checkExample(obj, i + 1, errors);
    if (e) examples.push(e);
  });
  return { format: 'examples', examples, errors };
}

function parseJsonl(text) {
  const examples = [];
  const errors = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    let obj;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      pushError(errors, i + 1, `not valid JSON (${shortJsonError(e)})`);
      continue;
    }
    const ex = checkExample(obj, i + 1, errors);
    if (ex) examples.push(ex);
  }
  return { format: 'jsonl', examples, errors };
}

function shortJsonError(e) {
  return String(e?.message ?? e).replace(/^JSON\.parse: /, '').replace(/\s+/g, ' ').slice(0, 80);
}

/** One CSV line without newlines inside quotes -> fields, or null if quotes do not close. */
function splitCsvLine(line) {
  const rec = [];
  const r = readCsvRecords(line);
  if (r.errors.length || r.records.length !== 1) return null;
  rec.push(...r.records[0].fields);
  return rec;
}

/** RFC 4180 records with the 1-based line each starts on; `sep` is ',' (CSV) or '\t' (TSV). */
function readCsvRecords(text, sep = ',') {
  const records = [];
  const errors = [];
  let fields = [];
  let field = '';
  let i = 0;
  let line = 1;
  let recLine = 1;
  let inQuotes = false;
  let quoteLine = 0;
  let any = false; // current record has content
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field.trim() !== '') {
        pushError(errors, line, 'a quote inside an unquoted field (quote the whole field and double inner quotes)');
      }
      field = '';
      inQuotes = true;
      quoteLine = line;
      any = true;
      i++;
      continue;
    }
    if (c === sep) {
      fields.push(field);
      field = '';
      any = true;
      i++;
      continue;
    }
    if (c === '\r' && text[i + 1] === '\n') {
      i++;
      continue;
    }
    if (c === '\n') {
      fields.push(field);
      if (any || field !== '') records.push({ line: recLine, fields });
      fields = [];
      field = '';
      any = false;
      line++;
      recLine = line;
      i++;
      continue;
    }
    field += c;
    any = true;
    i++;
  }
  if (inQuotes) pushError(errors, quoteLine, 'a quoted field is never closed');
  fields.push(field);
  if (any || field !== '') records.push({ line: recLine, fields });
  return { records, errors };
}

/** CSV (sep ',') or TSV (sep '\t'): a header row names the columns; TSV may instead have no
 *  header, each row then being input<TAB>output. */
function parseDelimited(text, sep, format) {
  const examples = [];
  const { records, errors } = readCsvRecords(text, sep);
  if (records.length === 0) return { format, examples, errors };
  const what = sep === '\t' ? 'tab-separated fields' : 'fields';
  const header = records[0].fields.map((c) => c.trim().toLowerCase());
  let ti = header.indexOf('text');
  let ii = header.indexOf('input');
  let oi = header.indexOf('output');
  let rows = records.slice(1);
  let width = header.length;
  if (ti < 0 && (ii < 0 || oi < 0)) {
    if (sep !== '\t') {
      pushError(errors, records[0].line, 'the header row must name a "text" column, or "input" and "output" columns');
      return { format, examples, errors };
    }
    [ti, ii, oi, rows, width] = [-1, 0, 1, records, 2];
  }
  for (const r of rows) {
    if (r.fields.length !== width) {
      pushError(errors, r.line, rows === records
        ? `expected 2 ${what} (input, output) or a header row naming the columns, found ${r.fields.length}`
        : `expected ${width} ${what} like the header, found ${r.fields.length}`);
      continue;
    }
    const ex = ii >= 0 && oi >= 0
      ? checkExample({ input: r.fields[ii], output: r.fields[oi] }, r.line, errors)
      : checkExample({ text: r.fields[ti] }, r.line, errors);
    if (ex) examples.push(ex);
  }
  return { format, examples, errors };
}

function parseCsv(text) { return parseDelimited(text, ',', 'csv'); }

function parseTsv(text) { return parseDelimited(text, '\t', 'tsv'); }

function parseText(text) {
  const examples = [];
  const errors = [];
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  let block = [];
  const flush = () => {
    if (block.length) examples.push({ text: block.join('\n') });
    block = [];
  };
  lines.forEach((l) => {
    if (l.trim() === '') {
      flush();
    } else {
      block.push(l);
    }
  });
  flush();
  return { format: 'text', examples, errors };
}

/** Whether a label set (as labelSet or the engine reports it) looks like labels to a person:
 *  short outputs, each used by several examples on average. 16 distinct sentences over 16
 *  examples are answers, not labels. */
export function isLabelLike(labels, count) {
  if (!Array.isArray(labels) || labels.length < 2 || !(count > 0)) return false;
  if (labels.length * 2 > count) return false;
  return labels.every((l) => l.length <= 24 && l.trim().split(/\s+/).length <= 3);
}

/** Labels when outputs form a small set (<= 20 distinct), as the evaluator scores them. */
export function labelSet(examples, max = 20) {
  const s = new Set();
  for (const e of examples) {
    if (!('output' in e)) return null;
    s.add(e.output);
    if (s.size > max) return null;
  }
  return s.size ? [...s] : null;
}
