// ui.js - small DOM and formatting helpers for the studio page (no framework).

export const $ = (id) => document.getElementById(id);

/** el('td', {class: 'num', title: 'x'}, 'text', childNode, ...) */
export function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'dataset') Object.assign(n.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else if (v === true) n.setAttribute(k, '');
    else n.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

export function setStatus(node, text, kind = '') {
  node.textContent = text ?? '';
  node.classList.remove('ok', 'err');
  if (kind) node.classList.add(kind);
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtCount(n) {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} K`;
  return n.toLocaleString('en');
}

export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function fmtLoss(x) { return Number.isFinite(x) ? x.toFixed(3) : '–'; }

export function fmtDate(ms) {
  const d = new Date(ms);
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, { year: sameYear ? undefined : 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Show a token piece so that spaces and control bytes are visible. */
export function showPiece(p) {
  return String(p).replace(/[ \u2581]/g, '·').replace(/\n|<0x0A>/g, '↵').replace(/\t|<0x09>/g, '⇥') || '∅';
}

/** Start a file download of bytes without leaving the page. */
export function download(name, bytes, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = el('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Debounce a function (trailing call). */
export function debounce(fn, ms) {
  let t = 0;
  const wrapped = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  wrapped.flush = (...args) => { clearTimeout(t); fn(...args); };
  return wrapped;
}

/** Read every file of a drop, descending into folders (an HF model folder dropped whole). When
 *  a single folder was dropped, the returned array's `folder` is its name. */
export async function filesFromDrop(dt) {
  const items = [...(dt.items ?? [])];
  const entries = items.map((it) => (it.webkitGetAsEntry ? it.webkitGetAsEntry() : null)).filter(Boolean);
  if (!entries.length) return [...(dt.files ?? [])];
  const out = [];
  if (entries.length === 1 && entries[0].isDirectory) out.folder = entries[0].name;
  const walk = async (entry) => {
    if (entry.isFile) {
      out.push(await new Promise((res, rej) => entry.file(res, rej)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

/** A message right under the control that caused it (role=alert, so screen readers hear it),
 *  tied to the control with aria-describedby. kind 'err' marks the control aria-invalid and
 *  moves focus to it (or to `focus`); 'warn' only shows the line. An empty message clears it.
 *  `after` is the element the line goes after (default: the control itself). */
export function fieldMessage(control, message, { kind = 'err', after = control, focus = control } = {}) {
  const id = `${control.id || control.name}-msg`;
  let node = document.getElementById(id);
  if (!message) {
    if (node) node.remove();
    control.removeAttribute('aria-invalid');
    const rest = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((x) => x && x !== id);
    if (rest.length) control.setAttribute('aria-describedby', rest.join(' '));
    else control.removeAttribute('aria-describedby');
    return null;
  }
  if (!node) {
    node = el('p', { id, class: 'field-msg', role: 'alert' });
    after.insertAdjacentElement('afterend', node);
  }
  node.className = `field-msg ${kind}`;
  node.textContent = message;
  const ids = new Set((control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean));
  ids.add(id);
  control.setAttribute('aria-describedby', [...ids].join(' '));
  if (kind === 'err') {
    control.setAttribute('aria-invalid', 'true');
    if (focus && typeof focus.focus === 'function') focus.focus();
  } else control.removeAttribute('aria-invalid');
  return node;
}
