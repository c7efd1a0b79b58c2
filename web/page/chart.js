// chart.js - a small canvas line chart for training loss (train and eval), drawn by hand.
//
//   const chart = new LossChart(canvas, { smoothing: 0.6 });
//   chart.addTrain(step, loss); chart.addEval(step, evalLoss); chart.setTotal(steps);
//   chart.setSeries({ train: [[step, loss]...], eval: [[step, loss]...] }); chart.clear();
//
// Redraws at most once per animation frame, follows its box size (ResizeObserver) and the
// device pixel ratio, takes its colours from CSS custom properties (--chart-train, --chart-eval,
// --chart-grid, --chart-text, --chart-bg) so it follows the page's light/dark theme, and shows
// the values under the pointer. Its numbers are mirrored in data-* attributes and in the
// canvas's aria-label so tests and screen readers can read what it shows.

export class LossChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{smoothing?: number, title?: string}} [opts]
   */
  constructor(canvas, opts = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.smoothing = opts.smoothing ?? 0.8;
    this.title = opts.title ?? 'Loss';
    this.train = []; // [step, loss]
    this.eval = []; // [step, loss]
    this.total = 0; // expected number of steps (x axis end), 0 = unknown
    this.hover = null; // pointer x in CSS pixels
    this.frame = 0;
    this.size = { w: 0, h: 0 };
    canvas.setAttribute('role', 'img');
    this.ro = new ResizeObserver(() => this.requestDraw());
    this.ro.observe(canvas);
    canvas.addEventListener('pointermove', (e) => {
      const r = canvas.getBoundingClientRect();
      this.hover = e.clientX - r.left;
      this.requestDraw();
    });
    canvas.addEventListener('pointerleave', () => { this.hover = null; this.requestDraw(); });
    this.updateLabel();
    this.requestDraw();
  }

  clear() { this.train = []; this.eval = []; this.total = 0; this.changed(); }
  setTotal(n) { this.total = Number.isFinite(n) && n > 0 ? n : 0; this.changed(); }
  addTrain(step, loss) { if (Number.isFinite(loss)) { this.train.push([step, loss]); this.changed(); } }
  addEval(step, loss) { if (Number.isFinite(loss)) { this.eval.push([step, loss]); this.changed(); } }
  setSeries({ train = [], eval: ev = [], total = 0 } = {}) {
    this.train = train.filter((p) => Number.isFinite(p[1]));
    this.eval = ev.filter((p) => Number.isFinite(p[1]));
    this.total = total;
    this.changed();
  }

  changed() { this.updateLabel(); this.requestDraw(); }

  updateLabel() {
    const c = this.canvas;
    const t = this.train;
    c.dataset.trainPoints = String(t.length);
    c.dataset.evalPoints = String(this.eval.length);
    c.dataset.trainLosses = JSON.stringify(t.map((p) => round4(p[1])));
    c.dataset.evalLosses = JSON.stringify(this.eval.map((p) => round4(p[1])));
    if (!t.length) {
      c.setAttribute('aria-label', `${this.title} chart: no data yet`);
      return;
    }
    const first = t[0][1];
    const last = t[t.length - 1][1];
    let label = `${this.title} chart: ${t.length} training steps, loss from ${first.toFixed(3)} to ${last.toFixed(3)}`;
    if (this.eval.length) label += `; eval loss ${this.eval[this.eval.length - 1][1].toFixed(3)} at step ${this.eval[this.eval.length - 1][0]}`;
    c.setAttribute('aria-label', label);
  }

  requestDraw() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  colors() {
    const cs = getComputedStyle(this.canvas);
    const v = (name, dflt) => cs.getPropertyValue(name).trim() || dflt;
    return {
      train: v('--chart-train', '#4f46e5'),
      eval: v('--chart-eval', '#d97706'),
      grid: v('--chart-grid', 'rgba(0,0,0,0.08)'),
      text: v('--chart-text', '#555'),
      bg: v('--chart-bg', 'transparent'),
      font: cs.fontFamily || 'system-ui, sans-serif',
    };
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, c.clientWidth);
    const h = Math.max(1, c.clientHeight);
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const ctx = this.ctx;
    const col = this.colors();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (col.bg !== 'transparent') { ctx.fillStyle = col.bg; ctx.fillRect(0, 0, w, h); }
    ctx.font = `12px ${col.font}`;
    ctx.textBaseline = 'middle';

    const pad = { l: 44, r: 14, t: 26, b: 28 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    if (pw < 20 || ph < 20) return;

    const all = this.train.concat(this.eval);
    if (!all.length) {
      ctx.fillStyle = col.text;
      ctx.textAlign = 'center';
      ctx.fillText('The loss curve appears here while the prompt trains.', pad.l + pw / 2, pad.t + ph / 2);
      return;
    }

    // ranges
    let yMin = Infinity; let yMax = -Infinity; let xMax = 1;
    for (const [s, l] of all) { if (l < yMin) yMin = l; if (l > yMax) yMax = l; if (s > xMax) xMax = s; }
    if (this.total > xMax) xMax = this.total;
    if (yMax - yMin < 1e-6) { yMax += 0.5; yMin -= 0.5; }
    const ticks = niceTicks(Math.max(0, yMin - (yMax - yMin) * 0.08), yMax + (yMax - yMin) * 0.08, 5);
    yMin = ticks[0]; yMax = ticks[ticks.length - 1];
    const xTicks = niceTicks(0, xMax, Math.max(2, Math.min(8, Math.floor(pw / 70))), true);
    const xEnd = Math.max(xMax, xTicks[xTicks.length - 1]);
    const X = (s) => pad.l + (s / xEnd) * pw;
    const Y = (l) => pad.t + (1 - (l - yMin) / (yMax - yMin)) * ph;

    // grid + axis labels
    ctx.strokeStyle = col.grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = col.text;
    ctx.textAlign = 'right';
    for (const t of ticks) {
      const y = Math.round(Y(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + pw, y); ctx.stroke();
      ctx.fillText(fmtTick(t), pad.l - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks) {
      if (t > xEnd) continue;
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, pad.t + ph); ctx.lineTo(x, pad.t + ph + 4); ctx.stroke();
      ctx.fillText(String(t), x, pad.t + ph + 7);
    }
    ctx.textBaseline = 'middle';
    if (pw > 440) { ctx.textAlign = 'right'; ctx.fillText('loss per optimiser step', pad.l + pw, 11); }

    // train: raw (faint) + smoothed (bold)
    if (this.train.length) {
      ctx.globalAlpha = 0.28;
      line(ctx, this.train, X, Y, col.train, 1.25);
      ctx.globalAlpha = 1;
      // smooth more as the run grows: a short run's few points need little smoothing (less lag)
      const alpha = Math.min(this.smoothing, this.train.length / 150);
      line(ctx, ema(this.train, alpha), X, Y, col.train, 2.25);
    }
    if (this.eval.length) {
      line(ctx, this.eval, X, Y, col.eval, 2, [5, 4]);
      ctx.fillStyle = col.eval;
      for (const [s, l] of this.eval) { ctx.beginPath(); ctx.arc(X(s), Y(l), 3, 0, Math.PI * 2); ctx.fill(); }
    }

    // legend
    ctx.textAlign = 'left';
    let lx = pad.l;
    const ly = 11;
    const legend = [['train (smoothed)', col.train, false]];
    if (this.eval.length) legend.push(['eval (held out)', col.eval, true]);
    for (const [name, color, dashed] of legend) {
      ctx.strokeStyle = color; ctx.lineWidth = 2.25;
      ctx.setLineDash(dashed ? [5, 4] : []);
      ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(lx + 18, ly); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = col.text;
      ctx.fillText(name, lx + 24, ly);
      lx += 24 + ctx.measureText(name).width + 18;
    }

    // hover readout
    if (this.hover !== null && this.train.length) {
      const sHover = ((this.hover - pad.l) / pw) * xEnd;
      const near = nearest(this.train, sHover);
      if (near) {
        const x = X(near[0]);
        ctx.strokeStyle = col.text; ctx.globalAlpha = 0.35; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x, pad.t); ctx.lineTo(x, pad.t + ph); ctx.stroke();
        ctx.globalAlpha = 1;
        const ev = nearest(this.eval, near[0]);
        let txt = `step ${near[0]}: loss ${near[1].toFixed(3)}`;
        if (ev && ev[0] === near[0]) txt += `, eval ${ev[1].toFixed(3)}`;
        const tw = ctx.measureText(txt).width + 12;
        const bx = Math.min(Math.max(x - tw / 2, pad.l), pad.l + pw - tw);
        ctx.fillStyle = col.text; ctx.globalAlpha = 0.9;
        roundRect(ctx, bx, pad.t + 2, tw, 20, 4); ctx.fill();
        ctx.globalAlpha = 1;
        ctx.fillStyle = getComputedStyle(this.canvas).getPropertyValue('--chart-tip-text').trim() || '#fff';
        ctx.textAlign = 'center';
        ctx.fillText(txt, bx + tw / 2, pad.t + 12);
      }
    }
  }

  destroy() { this.ro.disconnect(); if (this.frame) cancelAnimationFrame(this.frame); }
}

function line(ctx, pts, X, Y, color, width, dash = []) {
  if (!pts.length) return;
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineJoin = 'round';
  ctx.setLineDash(dash);
  ctx.beginPath();
  pts.forEach(([s, l], i) => (i ? ctx.lineTo(X(s), Y(l)) : ctx.moveTo(X(s), Y(l))));
  if (pts.length === 1) { ctx.lineTo(X(pts[0][0]) + 0.01, Y(pts[0][1])); }
  ctx.stroke();
  ctx.setLineDash([]);
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y); ctx.arcTo(x + w, y, x + w, y + h, r); ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r); ctx.arcTo(x, y, x + w, y, r); ctx.closePath();
}

/** Exponential moving average with TensorBoard-style debiasing, so the line starts at the data. */
export function ema(points, alpha) {
  const out = [];
  let acc = 0;
  let wsum = 0;
  for (const [s, l] of points) {
    acc = acc * alpha + (1 - alpha) * l;
    wsum = wsum * alpha + (1 - alpha);
    out.push([s, acc / wsum]);
  }
  return out;
}

function nearest(points, s) {
  let best = null; let bd = Infinity;
  for (const p of points) { const d = Math.abs(p[0] - s); if (d < bd) { bd = d; best = p; } }
  return best;
}

/** Round numbers for axis ticks covering [lo, hi] with about n intervals. */
export function niceTicks(lo, hi, n, integer = false) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 && !integer ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const start = Math.floor(lo / step) * step;
  const ticks = [];
  for (let t = start; t <= hi + step * 0.5; t += step) ticks.push(+t.toFixed(10));
  if (ticks[ticks.length - 1] < hi) ticks.push(+(ticks[ticks.length - 1] + step).toFixed(10));
  return ticks;
}

function fmtTick(t) {
  const a = Math.abs(t);
  return a >= 100 ? t.toFixed(0) : a >= 10 ? t.toFixed(1) : t.toFixed(2).replace(/0$/, '');
}

function round4(x) { return Math.round(x * 1e4) / 1e4; }
