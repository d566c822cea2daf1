// analyst.js - the analyst view: revenue over time with a granularity switch
// and a date range, the averages per hour/day/month/year, revenue by hour of
// day and by weekday, the rankings (rankings.js) and the live pipeline panel
// (live.js). Every figure is the BI API's answer as it came (docs/metrics.md
// defines them); money is shown exactly as the API wrote it.
import { chart } from './charts.js';
import { fill, h, state, table } from './dom.js';
import { explain } from './api.js';
import { money, num, periodLabel, periodSeconds, plural, WEEKDAYS } from './format.js';
import { livePanel } from './live.js';
import { rankings } from './rankings.js';

const GRANULARITIES = ['hour', 'day', 'month', 'year'];
const TITLE = { hour: 'Hour', day: 'Day', month: 'Month', year: 'Year' };
const FOLLOW_MS = 5000; // at most one reload of the figures per 5 s while data arrives
const BUCKET_S = { hour: 3600, day: 86400, month: 31 * 86400, year: 366 * 86400 };

// The x value of a bucket, for the chart's legend, by granularity.
function bucketText(gran) {
  return (v) => {
    const iso = new Date(v * 1e3).toISOString();
    if (gran === 'hour') return `${iso.slice(0, 10)} ${iso.slice(11, 13)}:00`;
    if (gran === 'day') return iso.slice(0, 10);
    return periodLabel(gran === 'month' ? iso.slice(0, 7) : iso.slice(0, 4));
  };
}

// Ticks on whole months (years): every k-th bucket, k so labels keep 80 px apart.
function bucketSplits(u) {
  const xs = u.data[0];
  const px = u.bbox.width / (window.devicePixelRatio || 1);
  const k = Math.max(1, Math.ceil((xs.length * 80) / Math.max(px, 1)));
  return xs.filter((x, i) => i % k === 0);
}

function section(id, title, ...children) {
  return h('section', { class: 'card', id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title), ...children);
}

export function analystView(root, ctx) {
  const st = { gran: 'month', from: '', to: '', sales: null, profiles: null, seq: 0, loadedAt: 0 };

  // Controls.
  const granRadios = GRANULARITIES.map((g) => h('label', { class: 'seg' },
    h('input', { type: 'radio', name: 'granularity', value: g, checked: g === st.gran,
      onchange: () => { st.gran = g; renderSales(); } }),
    h('span', {}, TITLE[g])));
  const fromInput = h('input', { type: 'date', id: 'range-from', onchange: () => rangeChanged() });
  const toInput = h('input', { type: 'date', id: 'range-to', onchange: () => rangeChanged() });
  const wholeButton = h('button', { type: 'button', class: 'quiet', onclick: () => {
    fromInput.value = toInput.value = '';
    rangeChanged();
  } }, 'Whole range');
  const follow = h('input', { type: 'checkbox', id: 'follow', checked: true });
  const asOf = h('p', { class: 'hint as-of', 'aria-live': 'polite', dataset: { k: 'as-of' } });
  const toolbar = h('section', { class: 'card wide toolbar', 'aria-label': 'What to show' },
    h('fieldset', { class: 'segmented' }, h('legend', {}, 'Granularity'), granRadios),
    h('div', { class: 'range' },
      h('label', { for: 'range-from' }, 'From'), fromInput,
      h('label', { for: 'range-to' }, 'To'), toInput, wholeButton),
    h('label', { class: 'check', for: 'follow' }, follow, ' Follow new data'),
    asOf);

  // Sales: figures, chart, its table.
  const kpis = h('div', { class: 'kpis', dataset: { k: 'kpis' } });
  const salesChart = chart({
    title: 'Revenue over time', height: 280,
    x: { label: 'Month (shop time)', time: true, format: bucketText('month') },
    y: { label: 'Revenue (£)' },
    series: [{ label: 'Revenue', bars: true }],
  });
  const salesState = h('div', {});
  const salesTable = h('div', {});
  const salesDetails = h('details', { class: 'figures',
    ontoggle: () => { if (salesDetails.open) renderSalesTable(); } },
  h('summary', {}, 'The figures as a table'), salesTable);
  let chartNow = salesChart;
  const salesCard = h('section', { class: 'card wide', id: 'sales', 'aria-labelledby': 'sales-title' },
    h('h2', { id: 'sales-title' }, 'Revenue over time'), kpis, salesState, salesChart.el, salesDetails);

  const averages = h('div', { dataset: { k: 'averages' } });
  const hourChart = chart({
    title: 'Revenue by hour of day', height: 220,
    x: { label: 'Hour of day (shop time)', format: (v) => `${String(v).padStart(2, '0')}:00`,
      ticks: (v) => String(v).padStart(2, '0'), range: () => [-0.6, 23.6], incrs: [1, 2, 3, 6] },
    y: { label: 'Revenue (£)' },
    series: [{ label: 'Revenue', bars: true }],
  });
  const dayChart = chart({
    title: 'Revenue by weekday', height: 220,
    x: { label: 'Weekday', format: (v) => WEEKDAYS[v] || '', ticks: (v) => (WEEKDAYS[v] || '').slice(0, 3),
      range: () => [-0.6, 6.6], incrs: [1] },
    y: { label: 'Revenue (£)' },
    series: [{ label: 'Revenue', bars: true, color: '#b45309' }],
  });
  const profileState = h('div', {});
  const profileTables = h('div', {});
  const liveCard = h('section', { class: 'card live', 'aria-labelledby': 'live-title' });

  const ranks = rankings(ctx);
  root.replaceChildren(toolbar, salesCard,
    section('averages', 'Average sales', h('p', { class: 'hint' },
      'Averages per hour, day, month and year of the range: over those with sales (the average trading day…) and over every calendar one (closed days count as zero).'),
    averages),
    liveCard,
    h('section', { class: 'card wide', id: 'profiles', 'aria-labelledby': 'profiles-title' },
      h('h2', { id: 'profiles-title' }, 'When the shop sells'), profileState,
      h('div', { class: 'pair' }, hourChart.el, dayChart.el),
      h('details', { class: 'figures' }, h('summary', {}, 'The figures as tables'), profileTables)),
    ranks.el);

  const live = livePanel(liveCard, ctx, () => {
    if (follow.checked && st.loadedAt && Date.now() - st.loadedAt > FOLLOW_MS) reload();
  });

  function query(extra) {
    const q = new URLSearchParams(extra);
    if (st.from) q.set('from', st.from);
    if (st.to) q.set('to', st.to);
    return q.toString();
  }

  function rangeChanged() {
    st.from = fromInput.value;
    st.to = toInput.value;
    if (st.from && st.to && st.from > st.to) {
      fill(salesState, state('error', 'The range ends before it starts.', 'Pick a "To" date on or after "From".'));
      return;
    }
    loadFigures();
  }

  async function loadFigures() {
    const seq = ++st.seq;
    st.loadedAt = Date.now();
    fill(salesState, h('p', { class: 'loading' }, 'Loading…'));
    try {
      const [sales, hours, days] = await Promise.all([
        Promise.all(GRANULARITIES.map((g) => ctx.get(`/v1/bi/sales?${query({ granularity: g })}`))),
        ctx.get(`/v1/bi/profile?${query({ by: 'hour_of_day' })}`),
        ctx.get(`/v1/bi/profile?${query({ by: 'weekday' })}`),
      ]);
      if (seq !== st.seq) return; // a newer request is on its way
      st.sales = Object.fromEntries(GRANULARITIES.map((g, i) => [g, sales[i]]));
      st.profiles = { hours, days };
      fill(salesState);
      if (!st.from && !st.to && st.sales.day.from) {
        fromInput.min = toInput.min = st.sales.day.from;
        fromInput.max = toInput.max = st.sales.day.to;
      }
      renderSales();
      renderAverages();
      renderProfiles();
    } catch (err) {
      if (seq !== st.seq) return;
      fill(salesState, state('error', 'The sales figures could not be read.', explain(err),
        { label: 'Try again', run: loadFigures }));
    }
  }

  function reload() {
    loadFigures();
    ranks.reload();
  }

  function renderAsOf(ans) {
    const w = ans.warehouse;
    fill(asOf, `Warehouse: ${num(w.records)} records loaded` +
      (w.lag === undefined ? '' : w.lag > 0 ? `, ${num(w.lag)} still to load` : ', up to date') +
      (ans.from ? `. Range shown: ${periodLabel(ans.from)} to ${periodLabel(ans.to)}.` : '.'));
  }

  function kpi(label, value, key, note) {
    return h('div', { class: 'kpi' }, h('span', { class: 'kpi-label' }, label),
      h('span', { class: 'kpi-value', dataset: { k: key } }, value),
      note ? h('span', { class: 'kpi-note' }, note) : null);
  }

  function renderSales() {
    if (!st.sales) return;
    const g = st.gran, ans = st.sales[g];
    renderAsOf(ans);
    if (!ans.buckets.length) {
      fill(kpis);
      fill(salesState, state('empty', 'No sales in this range.',
        ans.warehouse.records === 0
          ? 'The warehouse is empty: send transactions (shopflow replay FILE --key INGEST_KEY) or import a file; this page follows the data as it arrives.'
          : 'Widen the range, or press "Whole range".'));
      chartNow.el.hidden = true;
      return;
    }
    const unit = TITLE[g].toLowerCase();
    fill(kpis,
      kpi('Revenue', money(ans.totals.revenue), 'total-revenue'),
      kpi('Units', num(ans.totals.units), 'total-units'),
      kpi('Lines', num(ans.totals.lines), 'total-lines'),
      kpi(`Average per ${unit} with sales`, money(ans.average_per_bucket_with_sales.revenue), 'avg-with-sales',
        `${plural(ans.buckets_with_sales, unit, `${unit}s`)} with sales`),
      kpi(`Average per calendar ${unit}`, money(ans.average_per_calendar_bucket.revenue), 'avg-calendar',
        `${plural(ans.calendar_buckets, `calendar ${unit}`, `calendar ${unit}s`)}`));
    const next = chart({
      title: `Revenue by ${unit}, ${periodLabel(ans.from)} to ${periodLabel(ans.to)}`, height: 280,
      // Half a bucket either side of the data (uPlot would stretch a single
      // bucket over a thousand days).
      x: { label: `${TITLE[g]} (shop time)`, time: true, format: bucketText(g),
        range: (u) => [u.data[0][0] - BUCKET_S[g] / 2, u.data[0][u.data[0].length - 1] + BUCKET_S[g] / 2],
        ...(g === 'month' || g === 'year' ? { splits: bucketSplits, ticks: bucketText(g) } : {}) },
      y: { label: 'Revenue (£)' },
      series: [{ label: 'Revenue', bars: ans.buckets.length <= 62, area: true }],
    });
    chartNow.el.replaceWith(next.el);
    chartNow.destroy();
    chartNow = next;
    const top = ans.buckets.reduce((a, b) => (Number(b.revenue) > Number(a.revenue) ? b : a));
    next.update([ans.buckets.map((b) => periodSeconds(b.period)), ans.buckets.map((b) => Number(b.revenue))],
      `Revenue by ${unit} from ${periodLabel(ans.from)} to ${periodLabel(ans.to)}: ` +
      `${num(ans.buckets.length)} ${unit}s with sales, highest ${periodLabel(top.period)} at ${money(top.revenue)}`);
    if (salesDetails.open) renderSalesTable();
  }

  function renderSalesTable() {
    const ans = st.sales && st.sales[st.gran];
    if (!ans) return;
    fill(salesTable, table(`Sales by ${st.gran}`, [
      { label: TITLE[st.gran], cell: (b) => b.period },
      { label: 'Revenue', num: true, cell: (b) => money(b.revenue) },
      { label: 'Units', num: true, cell: (b) => num(b.units) },
      { label: 'Lines', num: true, cell: (b) => num(b.lines) },
      { label: 'Invoices', num: true, cell: (b) => num(b.invoices) },
      { label: 'Customers', num: true, cell: (b) => num(b.customers) },
      { label: 'Average invoice', num: true, cell: (b) => money(b.average_invoice_value) },
    ], ans.buckets, { dataset: { k: 'sales-table' } }));
  }

  function renderAverages() {
    fill(averages, table(null, [
      { label: 'Per', cell: (g) => TITLE[g] },
      { label: 'With sales', num: true, cell: (g) => num(st.sales[g].buckets_with_sales) },
      { label: 'Calendar', num: true, cell: (g) => num(st.sales[g].calendar_buckets) },
      { label: 'Revenue (with sales)', num: true,
        cell: (g) => money(st.sales[g].average_per_bucket_with_sales.revenue) },
      { label: 'Revenue (calendar)', num: true,
        cell: (g) => money(st.sales[g].average_per_calendar_bucket.revenue) },
      { label: 'Units (with sales)', num: true,
        cell: (g) => num(st.sales[g].average_per_bucket_with_sales.units) },
    ], GRANULARITIES, { dataset: { k: 'averages-table' } }));
  }

  function renderProfiles() {
    const { hours, days } = st.profiles;
    if (!hours.days_with_sales) {
      fill(profileState, state('empty', 'No sales in this range.', 'Widen the range, or press "Whole range".'));
      fill(profileTables);
      return;
    }
    fill(profileState);
    hourChart.update([hours.items.map((i) => i.hour), hours.items.map((i) => Number(i.revenue))],
      `Revenue by hour of day over ${num(hours.days_with_sales)} days with sales`);
    dayChart.update([days.items.map((i) => i.weekday), days.items.map((i) => Number(i.revenue))],
      `Revenue by weekday over ${num(days.days_with_sales)} days with sales`);
    const cols = (first, cell) => [
      { label: first, cell },
      { label: 'Revenue', num: true, cell: (i) => money(i.revenue) },
      { label: 'Days with sales', num: true, cell: (i) => num(i.days_with_sales) },
      { label: 'Per day with sales', num: true, cell: (i) => money(i.average_per_day_with_sales) },
      { label: 'Per calendar day', num: true, cell: (i) => money(i.average_per_calendar_day) },
    ];
    fill(profileTables,
      table('By hour of day', cols('Hour', (i) => `${String(i.hour).padStart(2, '0')}:00`),
        hours.items.filter((i) => i.lines > 0), { dataset: { k: 'hour-table' } }),
      table('By weekday', cols('Weekday', (i) => i.name), days.items, { dataset: { k: 'weekday-table' } }));
  }

  loadFigures();
  ranks.reload();
  return {
    destroy() {
      live.destroy();
      chartNow.destroy();
      hourChart.destroy();
      dayChart.destroy();
    },
  };
}
