// format.js - how figures are shown. Money arrives from the API as exact
// decimal strings ("1461756.25", "-82.40", "9747747.934"); tables show them
// digit for digit with a £ and thousands separators, never through a binary
// float. Charts plot Number(...) of them, where a cent's rounding is invisible.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

// "1461756.25" -> "£1,461,756.25"; "-82.40" -> "-£82.40"; null -> "—".
export function money(s) {
  if (s === null || s === undefined) return '—';
  const m = DECIMAL.exec(String(s));
  if (!m) return String(s);
  return `${m[1]}£${group(m[2])}${m[3] !== undefined ? '.' + m[3] : ''}`;
}

// An exact decimal string or a whole number with separators: "483309.50" ->
// "483,309.50", 740286 -> "740,286".
export function num(v) {
  if (v === null || v === undefined) return '—';
  const m = DECIMAL.exec(String(v));
  if (!m) return String(v);
  return `${m[1]}${group(m[2])}${m[3] !== undefined ? '.' + m[3] : ''}`;
}

// A plotted amount: whole pounds with separators ("£1,400,000").
export function moneyAxis(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return `${v < 0 ? '-' : ''}£${group(String(Math.round(Math.abs(v))))}`;
}

// A plotted amount to the penny, for the chart's legend.
export function moneyPlain(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (Math.abs(v) < 0.005) return '£0.00'; // no "-£0.00"
  const s = Math.abs(v).toFixed(2);
  return `${v < 0 ? '-' : ''}£${group(s.slice(0, -3))}${s.slice(-3)}`;
}

// A rate or count that may be fractional, rounded for people.
export function count(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return group(String(Math.round(v)));
}

const PERIOD = /^(\d{4})(?:-(\d\d)(?:-(\d\d)(?:[ T](\d\d))?)?)?$/;

// A BI period ("2011", "2011-11", "2011-11-05", "2011-11-05 08") as epoch
// seconds of shop time, read as UTC so no browser zone moves it.
export function periodSeconds(p) {
  const m = PERIOD.exec(p);
  if (!m) return NaN;
  return Date.UTC(+m[1], m[2] ? +m[2] - 1 : 0, m[3] ? +m[3] : 1, m[4] ? +m[4] : 0) / 1000;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

// A BI period for people: "2011-11" -> "Nov 2011", "2011-11-05 08" -> "5 Nov 2011, 08:00".
export function periodLabel(p) {
  const m = PERIOD.exec(p || '');
  if (!m) return p || '—';
  if (!m[2]) return m[1];
  const month = `${MONTHS[+m[2] - 1]} ${m[1]}`;
  if (!m[3]) return month;
  const day = `${+m[3]} ${month}`;
  return m[4] ? `${day}, ${m[4]}:00` : day;
}

export function plural(n, one, many) {
  return `${num(n)} ${n === 1 ? one : many}`;
}
