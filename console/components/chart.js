// SVG charts drawn by hand: a sparkline for table cells and a line chart
// with axes and a legend for the metrics page.

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

function path(points, x, y) {
  let d = '';
  let pen = false;
  for (const [px, py] of points) {
    if (py === null || py === undefined || Number.isNaN(py)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** A tiny line of `values` (numbers), 100×24 by default. */
export function sparkline(values, { width = 100, height = 24, label = '', testid } = {}) {
  const svg = s('svg', {
    class: 'sparkline', viewBox: `0 0 ${width} ${height}`, width, height,
    role: 'img', 'aria-label': label, 'data-testid': testid,
  });
  if (values.length < 2) return svg;
  const max = Math.max(...values, 1e-9);
  const x = (i) => (i / (values.length - 1)) * (width - 2) + 1;
  const y = (v) => height - 2 - (v / max) * (height - 4);
  const pts = values.map((v, i) => [i, v]);
  const d = path(pts, x, y);
  svg.appendChild(s('path', { d: `${d}L${x(values.length - 1)},${height}L${x(0)},${height}Z`, class: 'spark-fill' }));
  svg.appendChild(s('path', { d, class: 'spark-line' }));
  return svg;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const m = v / p;
  const n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
  return n * p;
}

/**
 * A line chart. series: [{name, points: [[tMillis, value|null]], cls}].
 * opts: {title, unit(v) -> string, height, testid}
 */
export function lineChart(series, opts = {}) {
  const W = 600;
  const H = opts.height || 200;
  const L = 56;
  const R = 10;
  const T = 10;
  const B = 24;
  const unit = opts.unit || ((v) => String(Math.round(v * 100) / 100));
  const all = series.flatMap((x) => x.points);
  const ts = all.map((p) => p[0]);
  const vs = all.map((p) => p[1]).filter((v) => v !== null && !Number.isNaN(v));
  const t0 = ts.length ? Math.min(...ts) : 0;
  const t1 = ts.length ? Math.max(...ts) : 1;
  const vmax = niceMax(vs.length ? Math.max(...vs) : 0);
  const x = (t) => L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - v / vmax) * (H - T - B);
  const svg = s('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`,
    role: 'img', 'aria-label': opts.title || 'chart',
  });
  for (let i = 0; i <= 4; i++) {
    const v = (vmax * i) / 4;
    svg.appendChild(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid-line' }));
    svg.appendChild(s('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, unit(v)));
  }
  if (ts.length) {
    const secs = Math.round((t1 - t0) / 1000);
    svg.appendChild(s('text', { x: L, y: H - 6, class: 'axis' }, `-${secs}s`));
    svg.appendChild(s('text', { x: W - R, y: H - 6, class: 'axis', 'text-anchor': 'end' }, 'now'));
  }
  series.forEach((ser, i) => {
    svg.appendChild(s('path', { d: path(ser.points, x, y), class: `series series-${i}` }));
  });
  const legend = document.createElement('ul');
  legend.className = 'legend';
  series.forEach((ser, i) => {
    const last = [...ser.points].reverse().find((p) => p[1] !== null && !Number.isNaN(p[1]));
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch series-${i}`;
    li.append(swatch, `${ser.name}: ${last ? unit(last[1]) : '—'}`);
    legend.appendChild(li);
  });
  const fig = document.createElement('figure');
  fig.className = 'chart-box';
  if (opts.testid) fig.dataset.testid = opts.testid;
  const cap = document.createElement('figcaption');
  cap.textContent = opts.title || '';
  fig.append(cap, svg, legend);
  if (!ts.length) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = 'Collecting samples…';
    fig.appendChild(p);
  }
  return fig;
}
