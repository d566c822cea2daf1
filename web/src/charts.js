// charts.js - the dashboard's charts, on uPlot (docs/architecture.md says
// why: a canvas chart of ~50 KB that draws tens of thousands of points in
// milliseconds, which an hour-by-hour year of sales needs).
//
// Every chart has labelled axes, £ amounts with thousands separators, a
// legend that shows the hovered values, an accessible name that says what it
// shows, and follows its container's width (laptop or phone).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';
import { moneyAxis, moneyPlain } from './format.js';

const INK = '#334155';
const GRID = '#e2e8f0';
export const COLORS = ['#0f766e', '#b45309', '#4f46e5', '#be123c', '#15803d'];

// Axis room for the widest tick label.
function axisSize(self, values, axisIdx, cycleNum) {
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  const longest = (values || []).reduce((n, v) => Math.max(n, String(v).length), 0);
  return Math.ceil(longest * 7.2) + 34;
}

function yAxis(label, format) {
  return {
    label, stroke: INK, labelSize: 22, size: axisSize,
    grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID },
    values: (u, splits) => splits.map(format),
  };
}

// A chart in its own figure element; returns {el, update(data), destroy()}.
//   spec: {title, height, x: {label, legend, time, localTime (else shop
//          time, as UTC), format(v) for the legend, ticks(v) for the axis,
//          range, incrs, splits}, y: {label, format},
//          series: [{label, color, bars, area (fill under a line), format}]}
export function chart(spec) {
  const plot = h('div', { class: 'plot' });
  const el = h('figure', { class: 'chart' },
    h('figcaption', {}, spec.title), plot);
  let u = null, last = null;
  const height = spec.height || 260;

  function options(width) {
    const barsPath = uPlot.paths.bars({ size: [0.8, 48], gap: 1 });
    return {
      width, height,
      // Shop time has no zone: shown as UTC so no browser's zone moves it.
      ...(spec.x.localTime ? {} : { tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC') }),
      legend: { live: true },
      cursor: { focus: { prox: 16 }, drag: { x: false, y: false } },
      scales: {
        x: { time: !!spec.x.time, ...(spec.x.range ? { range: spec.x.range } : {}) },
        // Amounts and rates are read against zero: the axis always shows it.
        y: { auto: true, range: (u, min, max) => [Math.min(0, min || 0), max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          label: spec.x.label, stroke: INK, labelSize: 22, grid: { show: false },
          ticks: { stroke: GRID },
          ...(spec.x.ticks ? { values: (u2, splits) => splits.map(spec.x.ticks) } : {}),
          ...(spec.x.incrs ? { incrs: spec.x.incrs } : {}),
          ...(spec.x.splits ? { splits: spec.x.splits } : {}),
        },
        yAxis(spec.y.label, spec.y.format || moneyAxis),
      ],
      series: [
        { label: spec.x.legend || spec.x.label, value: (u2, v) => (v === null ? '—' : spec.x.format(v)) },
        ...spec.series.map((s, i) => ({
          label: s.label,
          stroke: s.color || COLORS[i],
          fill: s.bars ? `${s.color || COLORS[i]}cc` : s.area ? `${s.color || COLORS[i]}22` : undefined,
          width: s.bars ? 0 : 2,
          paths: s.bars ? barsPath : undefined,
          points: { show: false },
          value: (u2, v) => (v === null ? '—' : (s.format || moneyPlain)(v)),
        })),
      ],
    };
  }

  function width() {
    return Math.max(240, Math.floor(plot.clientWidth || el.clientWidth || 600));
  }

  // data: [xs, ys1, ys2, ...]; summary: the chart's accessible name.
  function update(data, summary) {
    last = data;
    plot.setAttribute('role', 'img');
    plot.setAttribute('aria-label', summary || spec.title);
    if (u) u.destroy();
    plot.replaceChildren();
    u = new uPlot(options(width()), data, plot);
  }

  const resize = new ResizeObserver(() => {
    if (u && last && Math.abs(u.width - width()) > 4) u.setSize({ width: width(), height });
  });
  resize.observe(el);

  function destroy() {
    resize.disconnect();
    if (u) u.destroy();
    u = null;
  }
  return { el, update, destroy };
}
