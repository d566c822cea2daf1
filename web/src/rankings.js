// rankings.js - the analyst's rankings for one chosen day, month or year:
// most sold and most valuable products, highest-grossing customers and
// highest invoices, as tables with bars. An invoice opens its lines, a
// customer their purchase history (history.js).
import { bar, fill, h, state, table } from './dom.js';
import { explain } from './api.js';
import { money, num, periodLabel } from './format.js';
import { showCustomer, showInvoice } from './history.js';

const LIMIT = 10;
const KINDS = { day: 'Day', month: 'Month', year: 'Year' };

export function rankings(ctx) {
  const st = { kind: 'month', at: '', latest: true, by: 'units', periods: [], seq: 0 };

  const kindSelect = h('select', { id: 'rank-kind', onchange: () => {
    st.kind = kindSelect.value;
    st.latest = true;
    reload();
  } }, Object.entries(KINDS).map(([v, l]) => h('option', { value: v, selected: v === st.kind }, l)));
  const atSelect = h('select', { id: 'rank-at', onchange: () => {
    st.at = atSelect.value;
    st.latest = atSelect.selectedIndex === 0;
    loadTables();
  } });
  const byRadios = ['units', 'revenue'].map((b) => h('label', { class: 'seg' },
    h('input', { type: 'radio', name: 'products-by', value: b, checked: b === st.by,
      onchange: () => { st.by = b; loadTables(); } }),
    h('span', {}, b === 'units' ? 'Units' : 'Revenue')));
  const status = h('div', {});
  const products = h('div', { class: 'rank', id: 'top-products' });
  const customers = h('div', { class: 'rank', id: 'top-customers' });
  const invoices = h('div', { class: 'rank', id: 'top-invoices' });

  const el = h('section', { class: 'card wide', id: 'rankings', 'aria-labelledby': 'rankings-title' },
    h('h2', { id: 'rankings-title' }, 'Rankings'),
    h('div', { class: 'controls' },
      h('label', { for: 'rank-kind' }, 'Period'), kindSelect,
      h('label', { for: 'rank-at' }, 'Which'), atSelect,
      h('fieldset', { class: 'segmented' }, h('legend', {}, 'Products by'), byRadios)),
    status,
    h('div', { class: 'ranks' }, products, customers, invoices));

  // The periods with sales of the chosen kind, newest first.
  async function reload() {
    const seq = ++st.seq;
    try {
      const ans = await ctx.get(`/v1/bi/sales?granularity=${st.kind}`);
      if (seq !== st.seq) return;
      st.periods = ans.buckets.map((b) => b.period).reverse();
    } catch (err) {
      if (seq === st.seq)
        fill(status, state('error', 'The periods could not be read.', explain(err), { label: 'Try again', run: reload }));
      return;
    }
    if (!st.periods.length) {
      fill(atSelect);
      fill(status, state('empty', 'Nothing to rank yet.',
        'The warehouse has no sales: send or import transactions; the rankings follow the data as it arrives.'));
      fill(products), fill(customers), fill(invoices);
      return;
    }
    if (st.latest || !st.periods.includes(st.at)) st.at = st.periods[0];
    fill(atSelect, st.periods.map((p) => h('option', { value: p, selected: p === st.at }, periodLabel(p))));
    await loadTables();
  }

  async function loadTables() {
    const seq = ++st.seq;
    fill(status);
    const q = `period=${st.kind}&at=${encodeURIComponent(st.at)}&limit=${LIMIT}`;
    const parts = [[products, `/v1/bi/top-products?by=${st.by}&${q}`, renderProducts],
      [customers, `/v1/bi/top-customers?${q}`, renderCustomers],
      [invoices, `/v1/bi/top-invoices?${q}`, renderInvoices]];
    await Promise.all(parts.map(async ([into, path, render]) => {
      try {
        const ans = await ctx.get(path);
        if (seq !== st.seq) return;
        const items = ans.periods.length ? ans.periods[0].items : [];
        fill(into, render(items));
      } catch (err) {
        if (seq === st.seq)
          fill(into, state('error', 'This ranking could not be read.', explain(err), { label: 'Try again', run: loadTables }));
      }
    }));
  }

  const when = () => periodLabel(st.at);
  const maxOf = (items, f) => items.reduce((m, i) => Math.max(m, f(i)), 0);
  const emptyRank = (what) => state('empty', `No ${what} in ${when()}.`, 'Pick another period.');

  function renderProducts(items) {
    if (!items.length) return [h('h3', {}, 'Top products'), emptyRank('products sold')];
    const byUnits = st.by === 'units';
    const max = maxOf(items, (i) => (byUnits ? i.units : Number(i.revenue)));
    return [h('h3', {}, `Top products by ${byUnits ? 'units' : 'revenue'}, ${when()}`),
      table(null, [
        { label: '#', num: true, cell: (i) => String(i.rank) },
        { label: 'Product', cell: (i) => h('span', {}, h('span', { class: 'code' }, i.stock_code), ' ', i.description) },
        { label: 'Units', num: true, cell: (i) => (byUnits ? bar(num(i.units), i.units, max) : num(i.units)) },
        { label: 'Revenue', num: true,
          cell: (i) => (byUnits ? money(i.revenue) : bar(money(i.revenue), Number(i.revenue), max)) },
      ], items, { dataset: { k: 'top-products' } })];
  }

  function renderCustomers(items) {
    if (!items.length) return [h('h3', {}, 'Top customers'), emptyRank('customers')];
    const max = maxOf(items, (i) => Number(i.revenue));
    return [h('h3', {}, `Top customers, ${when()}`),
      table(null, [
        { label: '#', num: true, cell: (i) => String(i.rank) },
        { label: 'Customer', cell: (i) => h('button', { type: 'button', class: 'link',
          'aria-label': `Customer ${i.customer_id}: show their invoices`,
          onclick: () => showCustomer(ctx, i.customer_id) }, String(i.customer_id)) },
        { label: 'Country', cell: (i) => i.country },
        { label: 'Invoices', num: true, cell: (i) => num(i.invoices) },
        { label: 'Revenue', num: true, cell: (i) => bar(money(i.revenue), Number(i.revenue), max) },
      ], items, { dataset: { k: 'top-customers' } })];
  }

  function renderInvoices(items) {
    if (!items.length) return [h('h3', {}, 'Top invoices'), emptyRank('invoices')];
    const max = maxOf(items, (i) => Number(i.revenue));
    return [h('h3', {}, `Top invoices, ${when()}`),
      table(null, [
        { label: '#', num: true, cell: (i) => String(i.rank) },
        { label: 'Invoice', cell: (i) => h('button', { type: 'button', class: 'link',
          'aria-label': `Invoice ${i.invoice_no}: show its lines`,
          onclick: () => showInvoice(ctx, i.invoice_no) }, i.invoice_no) },
        { label: 'Customer', cell: (i) => (i.customer_id === null ? 'none' : String(i.customer_id)) },
        { label: 'Date', cell: (i) => i.date },
        { label: 'Revenue', num: true, cell: (i) => bar(money(i.revenue), Number(i.revenue), max) },
      ], items, { dataset: { k: 'top-invoices' } })];
  }

  return { el, reload };
}
