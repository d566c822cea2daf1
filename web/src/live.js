// live.js - the pipeline panel: /metrics read every few seconds (while the
// page is visible) and shown as the ingest rate, the records in the log and
// each sink's lag and apply rate, with a chart of the last minutes.
//
// Rates are computed here from the counters' change between two reads
// (records accepted, records each sink applied), so they mean the same
// whatever else scrapes /metrics (the server's shopflow_sink_apply_rate is
// measured between any two scrapes); that one is shown until there are two.
import { chart, COLORS } from './charts.js';
import { fill, h, state } from './dom.js';
import { count, num } from './format.js';

export const INTERVAL_MS = 2000;
const KEEP = 90; // samples in the chart: three minutes

// Prometheus text -> [{name, labels: {k: v}, value}].
export function parseMetrics(text) {
  const out = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
  for (const l of text.split('\n')) {
    if (!l || l[0] === '#') continue;
    const m = line.exec(l);
    if (!m) continue;
    const labels = {};
    for (const kv of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[kv[1]] = kv[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// The panel's figures from one read of /metrics.
export function figures(metrics) {
  const f = { accepted: 0, logRecords: 0, sinks: {} };
  for (const m of metrics) {
    if (m.name === 'shopflow_ingest_records_accepted_total') f.accepted = m.value;
    else if (m.name === 'shopflow_log_end_offset') f.logRecords += m.value;
    else if (m.name.startsWith('shopflow_sink_') && m.labels.sink) {
      const s = (f.sinks[m.labels.sink] ||= { applied: 0, lag: 0, rate: 0, errors: 0 });
      if (m.name === 'shopflow_sink_applied_records_total') s.applied = m.value;
      else if (m.name === 'shopflow_sink_lag_records') s.lag = m.value;
      else if (m.name === 'shopflow_sink_apply_rate') s.rate = m.value;
      else if (m.name === 'shopflow_sink_errors_total') s.errors = m.value;
    }
  }
  return f;
}

// The panel in root; ctx.get reads /metrics. onChange(figures) after each
// read that saw new records. Returns {destroy()}.
export function livePanel(root, ctx, onChange) {
  const stats = h('dl', { class: 'live-stats' });
  const sinks = h('div', { class: 'sinks' });
  // Not a live region: it changes every 2 s, too often to be read out.
  const status = h('p', { class: 'live-status' }, 'Reading /metrics…');
  let sinkNames = [];
  // The chart's series follow the sinks the server runs.
  const makeChart = () => chart({
    title: 'Records per second, last 3 minutes',
    height: 170,
    x: {
      label: 'Time (your clock)', legend: 'Time', time: true, localTime: true,
      format: (v) => new Date(v * 1e3).toLocaleTimeString('en-GB'),
      ticks: (v) => new Date(v * 1e3).toLocaleTimeString('en-GB'),
      incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300],
    },
    y: { label: 'Records/s', format: count },
    series: [{ label: 'ingest', format: count, color: COLORS[0], area: true },
      ...sinkNames.map((n, i) => ({ label: `${n} applied`, format: count, color: COLORS[i + 1] }))],
  });
  let rates = makeChart();
  root.replaceChildren(
    h('div', { class: 'card-head' },
      h('h2', { id: 'live-title' }, h('span', { class: 'pulse', 'aria-hidden': 'true' }), 'Pipeline, live'),
      h('span', { class: 'hint' }, `refreshes every ${INTERVAL_MS / 1000} s`)),
    status, stats, sinks, rates.el);

  let prev = null, timer = null, stopped = false;
  const samples = { t: [], ingest: [], sinks: {} };

  function setSinks(names) {
    sinkNames = names;
    for (const n of names) if (!samples.sinks[n]) samples.sinks[n] = samples.t.map(() => null);
    const next = makeChart();
    rates.el.replaceWith(next.el);
    rates.destroy();
    rates = next;
  }

  function record(f, dt) {
    samples.t.push(Date.now() / 1000);
    samples.ingest.push(Math.max(0, (f.accepted - prev.accepted) / dt));
    for (const name of sinkNames) {
      const p = prev.sinks[name], s = f.sinks[name];
      samples.sinks[name].push(p ? Math.max(0, (s.applied - p.applied) / dt) : null);
    }
    if (samples.t.length > KEEP) {
      samples.t.shift();
      samples.ingest.shift();
      for (const name of Object.keys(samples.sinks)) samples.sinks[name].shift();
    }
  }

  const lastOf = (a) => (a && a.length ? a[a.length - 1] : null);

  function renderStats(f) {
    const ingestRate = lastOf(samples.ingest);
    fill(stats,
      h('div', {}, h('dt', {}, 'Ingest rate'), h('dd', { dataset: { k: 'ingest-rate' } },
        ingestRate === null ? 'measuring…' : `${count(ingestRate)} records/s`)),
      h('div', {}, h('dt', {}, 'Records in the log'),
        h('dd', { dataset: { k: 'log-records' } }, num(f.logRecords))),
      h('div', {}, h('dt', {}, 'Accepted since the server started'),
        h('dd', { dataset: { k: 'accepted' } }, num(f.accepted))));
  }

  function renderSinks(f) {
    if (!sinkNames.length) {
      fill(sinks, h('p', { class: 'hint' },
        'This server runs no sinks (serve --sinks none); run `shopflow sink all` beside it.'));
      return;
    }
    const rows = sinkNames.map((name) => {
      const s = f.sinks[name], rate = lastOf(samples.sinks[name]);
      return h('tr', { dataset: { sink: name } },
        h('th', { scope: 'row' }, name),
        h('td', { class: 'num', dataset: { k: 'applied' } }, num(s.applied)),
        h('td', { class: `num${s.lag > 0 ? ' behind' : ''}`, dataset: { k: 'lag' } }, num(s.lag)),
        // Until two reads give a rate of our own, the server's (between its scrapes).
        h('td', { class: 'num', dataset: { k: 'rate' } }, `${count(rate === null ? s.rate : rate)}/s`),
        h('td', { class: `num${s.errors > 0 ? ' behind' : ''}` }, num(s.errors)));
    });
    fill(sinks, h('div', { class: 'table-wrap' }, h('table', { class: 'sink-table' },
      h('caption', {}, 'Sinks: records applied, still to apply (lag), rate, failed runs'),
      h('thead', {}, h('tr', {}, ['Sink', 'Applied', 'Lag', 'Rate', 'Errors'].map((l, i) =>
        h('th', { scope: 'col', class: i ? 'num' : null }, l)))),
      h('tbody', {}, rows))));
  }

  function renderChart() {
    if (!samples.t.length) return;
    rates.update([samples.t.slice(), samples.ingest.slice(),
      ...sinkNames.map((n) => samples.sinks[n].slice())],
    `Records per second over the last minutes; ingest now ${count(lastOf(samples.ingest))} per second`);
  }

  async function read() {
    const t = performance.now() / 1000;
    const f = figures(parseMetrics(await ctx.get('/metrics')));
    if (stopped) return;
    const names = Object.keys(f.sinks).sort();
    if (names.join() !== sinkNames.join()) setSinks(names);
    if (prev && t > prev.t) record(f, t - prev.t);
    const changed = !prev || f.logRecords !== prev.logRecords ||
      names.some((n) => f.sinks[n].applied !== (prev.sinks[n] || {}).applied);
    renderStats(f);
    renderSinks(f);
    renderChart();
    fill(status, `Updated ${new Date().toLocaleTimeString('en-GB')}`);
    prev = { ...f, t };
    if (changed && onChange) onChange(f);
  }

  async function tick() {
    timer = null;
    if (stopped) return;
    if (document.visibilityState === 'visible') {
      try {
        await read();
      } catch (err) {
        fill(status, state('error', 'The pipeline figures could not be read.',
          'The server did not answer /metrics; the panel tries again every few seconds.'));
      }
    }
    if (!stopped) timer = setTimeout(tick, INTERVAL_MS);
  }

  const onVisible = () => {
    if (document.visibilityState === 'visible' && !timer && !stopped) tick();
  };
  document.addEventListener('visibilitychange', onVisible);
  tick();
  return {
    destroy() {
      stopped = true;
      if (timer) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
      rates.destroy();
    },
  };
}
