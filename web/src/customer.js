// customer.js - the customer view: with a customer token, that customer's
// invoices (newest first, a page at a time) and each invoice's lines. The
// server decides what the token may read; this view only asks for its own
// customer, and shows the server's 403 when asked for another's invoice.
import { h } from './dom.js';
import { invoiceList, showInvoice } from './history.js';

export function customerView(root, ctx) {
  const customer = ctx.session.customer;
  const list = h('div', { class: 'card-body' });
  const number = h('input', {
    id: 'open-invoice', type: 'text', inputmode: 'text', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'e.g. 536365', required: true, maxlength: 16,
  });
  const form = h('form', { class: 'inline-form', onsubmit: (e) => {
    e.preventDefault();
    const no = number.value.trim();
    if (no) showInvoice(ctx, no);
  } },
  h('label', { for: 'open-invoice' }, 'Open an invoice by its number'),
  number, h('button', { type: 'submit' }, 'Open'));

  root.replaceChildren(
    h('section', { class: 'card wide', 'aria-labelledby': 'history-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'history-title' }, `Your purchase history (customer ${customer})`)),
      h('p', { class: 'hint' }, 'Newest first. Choose an invoice to see its lines.'),
      list),
    h('section', { class: 'card', 'aria-labelledby': 'find-title' },
      h('h2', { id: 'find-title' }, 'Find an invoice'),
      form));
  invoiceList(ctx, customer, list, (no) => showInvoice(ctx, no, customer)).load();
  return { destroy() {} };
}
