// dom.js - building elements without innerHTML: every text the API returns
// (descriptions, countries) goes into text nodes, so none of it can ever run
// as markup, and the Content-Security-Policy needs no 'unsafe-inline'.

// h('button', {class: 'x', onclick: f}, 'text', child, [more]) -> element.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replace el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A state box: what is wrong or empty, and what to do about it.
export function state(kind, title, advice, action) {
  return h('div', { class: `state ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('strong', {}, title), advice ? h('p', {}, advice) : null,
    action ? h('button', { type: 'button', onclick: action.run }, action.label) : null);
}

// A table: columns [{label, num?: true, cell(row) -> node|text}], rows.
export function table(caption, columns, rows, props) {
  return h('div', { class: 'table-wrap' },
    h('table', props || {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) =>
        h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) =>
        h('td', { class: c.num ? 'num' : null }, c.cell(r))))))));
}

// A figure and a bar of its share of max, for ranked tables. The width is
// set through the CSSOM, which the CSP allows (a style attribute it would not).
export function bar(text, value, max) {
  const fill = h('span', { class: 'bar-fill', 'aria-hidden': 'true' });
  const share = max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  fill.style.width = `${(share * 100).toFixed(1)}%`;
  return h('span', { class: 'bar' }, fill, h('span', { class: 'bar-text' }, text));
}
