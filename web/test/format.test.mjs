// format.test.mjs - the dashboard's number formats (web/src/format.js), run by
// `node --test` (ctest: web.format). Money must come out digit for digit as
// the API wrote it, also where a binary float would not hold it.
import assert from 'node:assert/strict';
import test from 'node:test';
import { money, moneyAxis, moneyPlain, num, periodLabel, periodSeconds } from '../src/format.js';

test('money keeps every digit, with £ and thousands separators', () => {
  assert.equal(money('139.12'), '£139.12');
  assert.equal(money('9747747.934'), '£9,747,747.934');
  assert.equal(money('-82.40'), '-£82.40');
  assert.equal(money('-0.50'), '-£0.50');
  assert.equal(money('0.00'), '£0.00');
  assert.equal(money('1000'), '£1,000');
  // 2^53 is 9,007,199,254,740,992: a float would lose the last digits here.
  assert.equal(money('92233720368547758.07'), '£92,233,720,368,547,758.07');
  assert.equal(money(null), '—');
  assert.equal(money(undefined), '—');
});

test('num groups whole numbers and exact decimals', () => {
  assert.equal(num(740286), '740,286');
  assert.equal(num(-1234567), '-1,234,567');
  assert.equal(num('483309.50'), '483,309.50');
  assert.equal(num(0), '0');
  assert.equal(num(999), '999');
});

test('plotted amounts are whole pounds or pence, grouped', () => {
  assert.equal(moneyAxis(1500000), '£1,500,000');
  assert.equal(moneyAxis(-250.6), '-£251');
  assert.equal(moneyPlain(1234.5), '£1,234.50');
  assert.equal(moneyPlain(-0.004), '£0.00');
  assert.equal(moneyPlain(-0.006), '-£0.01');
});

test('periods are shop time, read as UTC', () => {
  assert.equal(periodSeconds('2011'), Date.UTC(2011, 0, 1) / 1000);
  assert.equal(periodSeconds('2011-11'), Date.UTC(2011, 10, 1) / 1000);
  assert.equal(periodSeconds('2011-11-05'), Date.UTC(2011, 10, 5) / 1000);
  assert.equal(periodSeconds('2011-11-05 08'), Date.UTC(2011, 10, 5, 8) / 1000);
  assert.ok(Number.isNaN(periodSeconds('11/2011')));
  assert.equal(periodLabel('2011-11'), 'Nov 2011');
  assert.equal(periodLabel('2011-11-05'), '5 Nov 2011');
  assert.equal(periodLabel('2011-11-05 08'), '5 Nov 2011, 08:00');
  assert.equal(periodLabel('2011'), '2011');
});
