// history.js - purchase history: a customer's invoices, newest first, one
// page at a time (the API's cursor), and an invoice's lines in a dialog.
// The customer view shows these for its token's customer; the analyst view
// opens them from its rankings (an invoice, or a customer's history).
import { ApiError, explain } from './api.js';
import { fill, h, state, table } from './dom.js';
import { money, num } from './format.js';

export const PAGE = 20;

const KIND = { sale: 'Sale', cancellation: 'Cancellation', adjustment: 'Adjustment' };

const dialog = () => document.getElementById('dialog');

function openDialog(title) {
  const d = dialog();
  fill(document.getElementById('dialog-title'), title);
  const body = fill(document.getElementById('dialog-body'),
    h('p', { class: 'loading' }, 'Loading…'));
  if (!d.open) d.showModal();
  return body;
}

export function initDialog() {
  const d = dialog();
  document.getElementById('dialog-close').addEventListener('click', () => d.close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  d.addEventListener('click', (e) => {
    if (e.target === d) d.close();
  });
}

function invoiceTitle(no) {
  return `Invoice ${no}`;
}

// The lines of invoice no, in the dialog. customer: read it through that
// customer's route (a list's invoice), else /v1/invoices/{no}. back: a
// {label, run} to return to a list shown in the dialog before.
export async function showInvoice(ctx, no, customer, back) {
  const body = openDialog(invoiceTitle(no));
  const path = customer !== undefined && customer !== null
    ? `/v1/customers/${encodeURIComponent(customer)}/invoices/${encodeURIComponent(no)}`
    : `/v1/invoices/${encodeURIComponent(no)}`;
  const backButton = back
    ? h('button', { type: 'button', class: 'quiet back', onclick: back.run }, `← ${back.label}`)
    : null;
  try {
    const inv = await ctx.get(path);
    fill(body, backButton, invoiceDetails(inv));
  } catch (err) {
    fill(body, backButton, invoiceError(err, no, ctx));
  }
  document.getElementById('dialog-close').focus();
}

function invoiceError(err, no, ctx) {
  if (err instanceof ApiError && err.status === 403)
    return state('error', `Invoice ${no} cannot be opened with this sign-in (403 Forbidden).`,
      ctx.session.kind === 'customer'
        ? 'A customer token opens only its own customer\'s invoices; pick one from your list.'
        : `The server says: ${err.message}.`);
  if (err instanceof ApiError && err.status === 404)
    return state('empty', `There is no invoice ${no}.`,
      'Check the number (cancellations start with C, adjustments with A); a new invoice shows once the history sink has it.');
  return state('error', `Invoice ${no} could not be read.`, explain(err));
}

function invoiceDetails(inv) {
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Date'), h('dd', {}, inv.date),
    h('dt', {}, 'Customer'), h('dd', {}, inv.customer_id === null ? 'none' : String(inv.customer_id)),
    h('dt', {}, 'Country'), h('dd', {}, inv.country),
    h('dt', {}, 'Kind'), h('dd', {}, KIND[inv.kind] || inv.kind),
    h('dt', {}, 'Units'), h('dd', {}, num(inv.units)),
    h('dt', {}, 'Total'), h('dd', { class: 'total', dataset: { k: 'invoice-total' } }, money(inv.total)));
  const lines = table(`${num(inv.line_count)} ${inv.line_count === 1 ? 'line' : 'lines'}`, [
    { label: '#', num: true, cell: (l) => String(l.line) },
    { label: 'Stock code', cell: (l) => l.stock_code },
    { label: 'Description', cell: (l) => l.description },
    { label: 'Quantity', num: true, cell: (l) => num(l.quantity) },
    { label: 'Unit price', num: true, cell: (l) => money(l.unit_price) },
    { label: 'Amount', num: true, cell: (l) => money(l.amount) },
  ], inv.lines, { class: 'lines', dataset: { k: 'invoice-lines' } });
  return h('div', { class: 'invoice' }, facts, lines);
}

// A customer's invoices, a page at a time, in el. onOpen(no): show one.
// Returns {load()}; cursors of the pages seen are kept so "Newer" goes back.
export function invoiceList(ctx, customer, el, onOpen) {
  const cursors = [null]; // cursors[i] fetches page i
  let page = 0;

  // Turning a page keeps the shown one (dimmed, its pager off) until the
  // next has arrived: the list does not flash empty, and a second click
  // cannot ask for a page whose cursor is not known yet.
  async function load() {
    const cursor = cursors[page];
    if (el.querySelector('table')) {
      el.setAttribute('aria-busy', 'true');
      for (const b of el.querySelectorAll('.pager button')) b.disabled = true;
    } else {
      fill(el, h('p', { class: 'loading' }, 'Loading invoices…'));
    }
    let ans;
    try {
      ans = await ctx.get(`/v1/customers/${encodeURIComponent(customer)}/invoices?limit=${PAGE}` +
        (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
    } catch (err) {
      el.removeAttribute('aria-busy');
      if (err instanceof ApiError && err.status === 404 && page === 0) {
        fill(el, state('empty', `No invoices for customer ${customer} yet.`,
          'They show here as soon as the shop sends them and the history sink has stored them; reload in a moment.',
          { label: 'Reload', run: load }));
      } else {
        fill(el, state('error', 'The invoices could not be read.', explain(err),
          { label: 'Try again', run: load }));
      }
      return;
    }
    cursors[page + 1] = ans.next_cursor;
    el.removeAttribute('aria-busy');
    render(ans);
  }

  function render(ans) {
    const first = page * PAGE + 1, lastShown = page * PAGE + ans.invoices.length;
    const rows = table(null, [
      {
        label: 'Invoice',
        cell: (i) => h('button', { type: 'button', class: 'link', onclick: () => onOpen(i.invoice_no),
          'aria-label': `Invoice ${i.invoice_no}: show its lines` }, i.invoice_no),
      },
      { label: 'Date', cell: (i) => i.date },
      { label: 'Kind', cell: (i) => KIND[i.kind] || i.kind },
      { label: 'Lines', num: true, cell: (i) => num(i.line_count) },
      { label: 'Units', num: true, cell: (i) => num(i.units) },
      { label: 'Total', num: true, cell: (i) => money(i.total) },
    ], ans.invoices, { class: 'invoices', dataset: { k: 'invoice-list' } });
    const newer = h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; load(); } },
      '← Newer');
    const older = h('button', { type: 'button', disabled: !ans.next_cursor, onclick: () => { page++; load(); } },
      'Older →');
    fill(el, rows, h('nav', { class: 'pager', 'aria-label': 'Pages of invoices' },
      newer, h('span', { dataset: { k: 'page-range' } }, `Invoices ${num(first)}–${num(lastShown)}, newest first`),
      older));
  }

  return { load };
}

// An analyst's look at one customer: the list in the dialog; an invoice
// opens in place, with a way back to the list.
export function showCustomer(ctx, customer) {
  const body = openDialog(`Customer ${customer}`);
  const list = h('div', {});
  fill(body, list);
  const view = invoiceList(ctx, customer, list, (no) =>
    showInvoice(ctx, no, customer, {
      label: `Customer ${customer}'s invoices`,
      run: () => {
        fill(document.getElementById('dialog-title'), `Customer ${customer}`);
        fill(document.getElementById('dialog-body'), list);
      },
    }));
  view.load();
}
