#!/usr/bin/env python3
"""money.py - the independent side of tests/hostile/money.sh (issue 15, item 3).

Python's integers have no width, so every figure here is exact whatever its
size; nothing of shopflow's code is used. Subcommands:

  gen DIR            write the request bodies (DIR/ok-*.ndjson accepted,
                     DIR/bad-*.{ndjson,csv} refused, with DIR/bad-*.want:
                     "index field reason-part") and DIR/records.json, the
                     accepted records in the order they are posted
  answer RECORDS FILE...
                     check BI answers (GET /v1/bi/..., or `report --format
                     json`, whose sections are the same answers) against the
                     records
  invoice RECORDS FILE   check a GET /v1/invoices/N answer
  rows RECORDS FILE  check the warehouse's own rows as dumped by sqlite3 or
                     psql (money.sh: "facts|COUNT|SUM", "sales|grain|period|
                     revenue|units|lines|invoices|customers", "invoice|no|
                     revenue|units|lines", "customers|grain|period|JSON",
                     "products|grain|period|JSON")
  csv RECORDS FILE   check `report --format csv`'s sales and ranking rows
  text RECORDS FILE  check the total line of `report --format text`'s sales
  check RECORDS FILE check `shopflow check --json` of the accepted records
Exit 1 with every difference printed on a mismatch.
"""
import json
import sys

NON_PRODUCT = {"POST", "DOT", "M", "m", "D", "C2", "S", "B", "CRUK", "PADS", "AMAZONFEE",
               "BANK CHARGES"}
GRAINS = {"hour": 13, "day": 10, "month": 7, "year": 4}
problems = []


def bad(msg):
    problems.append(msg)


def non_product(code):
    return code in NON_PRODUCT or code.startswith("gift_0001_") or code.startswith("DCGS")


def milli_of(price):
    """A decimal text ("999999", "-0.001") as exact milli-units."""
    neg = price.startswith("-")
    whole, _, frac = price.lstrip("-").partition(".")
    m = int(whole) * 1000 + int((frac + "000")[:3])
    return -m if neg else m


def money(m):
    """shopflow's decimal text: two decimals, three when the third is not 0."""
    sign = "-" if m < 0 else ""
    w, f = divmod(abs(m), 1000)
    return f"{sign}{w}.{f:03d}" if f % 10 else f"{sign}{w}.{f // 10:02d}"


def div_round(x, n):
    """x / n to the nearest integer, halves away from zero (n > 0)."""
    q, r = divmod(abs(x), n)
    q += 2 * r >= n
    return q if x >= 0 else -q


def line(inv, code, qty, price, date, customer, country, desc="issue 15"):
    return {"InvoiceNo": inv, "StockCode": code, "Description": desc, "Quantity": qty,
            "InvoiceDate": date, "UnitPrice": price, "CustomerID": customer, "Country": country}


def gen(out):
    big = 10000
    ok = [
        # Issue 15's request: one POST of 10,000 lines of a million at
        # 999,999 pounds. Its invoice, day and customer pass INT64_MAX
        # milli-units (9,999,990,000,000,000.000 pounds).
        [line("915001", "HUGE1", 1000000, "999999", "2011-12-10 10:00:00", 99001,
              "United Kingdom") for _ in range(big)],
        # A cancellation of 10,000 lines at the line limit (-10^12 pounds
        # each): its invoice, day and customer go below INT64_MIN.
        [line("C915002", "HUGE2", -1000000000, "1000", "2011-12-11 09:00:00", 99002, "France")
         for _ in range(big)],
        # Each limit reached exactly, from both sides, beside ordinary lines.
        [line("915003", "EDGE1", 1000000000, "1000", "2011-12-10 11:00:00", 99003, "Germany"),
         line("915003", "EDGE2", 1000, "1000000000", "2011-12-10 11:00:00", 99003, "Germany"),
         line("915003", "EDGE3", -1000, "-1000000000", "2011-12-10 11:00:00", 99003, "Germany"),
         line("915003", "ZERO", 0, "1000000000", "2011-12-10 11:00:00", 99003, "Germany"),
         line("A915004", "B", 1, "-1000000000", "2011-12-10 12:00:00", None, "United Kingdom"),
         line("915005", "85123A", 6, "2.55", "2011-12-10 12:30:00", 17850, "United Kingdom"),
         line("915005", "POST", 1, "0.001", "2011-12-10 12:30:00", 17850, "United Kingdom"),
         line("C915006", "EDGE1", -1000000000, "1000", "2011-12-11 10:00:00", 99003,
              "Germany"),
         line("915007", "HUGE1", -999999, "-999999.999", "2011-11-30 23:59:00", 99001,
              "United Kingdom")],
    ]
    refused = [
        ("ndjson", [line("915101", "X", 1000000001, "1", "2011-12-12 09:00:00", 1, "UK")],
         "0 Quantity is beyond the limit of ±1,000,000,000"),
        ("ndjson", [line("C915102", "X", -1000000001, "1", "2011-12-12 09:00:00", 1, "UK")],
         "0 Quantity is beyond the limit of ±1,000,000,000"),
        ("ndjson", [line("915103", "X", 1, "1000000000.001", "2011-12-12 09:00:00", 1, "UK")],
         "0 UnitPrice is beyond the limit of ±1,000,000,000"),
        ("ndjson", [line("A915104", "X", 1, "-1000000001", "2011-12-12 09:00:00", 1, "UK")],
         "0 UnitPrice is beyond the limit of ±1,000,000,000"),
        ("ndjson", [line("915105", "X", 1001, "1000000000", "2011-12-12 09:00:00", 1, "UK")],
         "0 UnitPrice beyond the limit of ±1,000,000,000,000"),
        ("ndjson", [line("C915106", "X", -1000000, "1000001", "2011-12-12 09:00:00", 1, "UK")],
         "0 UnitPrice beyond the limit of ±1,000,000,000,000"),
        # All or nothing: 9,999 good lines and one over the limit.
        ("ndjson", [line("915107", "HUGE1", 1000000, "999999", "2011-12-12 09:00:00", 99001,
                         "United Kingdom") for _ in range(big - 1)] +
         [line("915107", "HUGE1", 1000000, "1000000001", "2011-12-12 09:00:00", 99001,
               "United Kingdom")],
         f"{big - 1} UnitPrice is beyond the limit of ±1,000,000,000"),
        ("csv", "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,"
                "Country\n915108,X,csv,5000000000,2011-12-12 09:00:00,1,1,UK\n",
         "0 Quantity is beyond the limit of ±1,000,000,000"),
    ]
    records = []
    for i, body in enumerate(ok):
        with open(f"{out}/ok-{i}.ndjson", "w") as f:
            for r in body:
                f.write(json.dumps(r) + "\n")
        records += body
    for i, (kind, body, want) in enumerate(refused):
        with open(f"{out}/bad-{i}.{kind}", "w") as f:
            f.write(body if kind == "csv" else "".join(json.dumps(r) + "\n" for r in body))
        with open(f"{out}/bad-{i}.want", "w") as f:
            f.write(want + "\n")
    with open(f"{out}/records.json", "w") as f:
        json.dump(records, f)


class Figures:
    """Every figure of the warehouse's rollups, from the records."""

    def __init__(self, records):
        self.sales, self.invoices, self.customers, self.products = {}, {}, {}, {}
        self.profile = {"hour": {}, "weekday": {}}
        self.facts, self.amounts = len(records), 0
        import datetime
        for r in records:
            amount = r["Quantity"] * milli_of(r["UnitPrice"])
            self.amounts += amount
            q, date, inv, cust = r["Quantity"], r["InvoiceDate"], r["InvoiceNo"], r["CustomerID"]
            for g, n in GRAINS.items():
                s = self.sales.setdefault((g, date[:n]), [0, 0, 0, set(), set()])
                s[0] += amount
                s[1] += q
                s[2] += 1
                s[3].add(inv)
                if cust is not None:
                    s[4].add(cust)
                    c = self.customers.setdefault((g, date[:n], cust), [0, 0, 0, set()])
                    c[0] += amount
                    c[1] += q
                    c[2] += 1
                    c[3].add(inv)
                if g != "hour":
                    p = self.products.setdefault((g, date[:n], r["StockCode"]), [0, 0, 0])
                    p[0] += q
                    p[1] += amount
                    p[2] += 1
            i = self.invoices.setdefault(inv, {"date": date, "customer": None, "revenue": 0,
                                               "units": 0, "lines": 0})
            i["date"] = min(i["date"], date)
            if cust is not None and (i["customer"] is None or cust < i["customer"]):
                i["customer"] = cust
            i["revenue"] += amount
            i["units"] += q
            i["lines"] += 1
            day = datetime.date.fromisoformat(date[:10])
            for key, k in (("hour", int(date[11:13])), ("weekday", day.weekday())):
                p = self.profile[key].setdefault(k, [0, 0, 0])
                p[0] += amount
                p[1] += q
                p[2] += 1

    def ranking(self, question, grain, period, by_revenue=True, include_np=True):
        if question == "top-customers":
            rows = [(c, v) for (g, p, c), v in self.customers.items() if g == grain and p == period]
            rows.sort(key=lambda cv: (-cv[1][0], cv[0]))
            return [{"customer_id": c, "revenue": money(v[0]), "invoices": len(v[3])}
                    for c, v in rows]
        if question == "top-products":
            rows = [(c, v) for (g, p, c), v in self.products.items()
                    if g == grain and p == period and (include_np or not non_product(c))]
            rows.sort(key=lambda cv: (-cv[1][1 if by_revenue else 0], cv[0].encode()))
            return [{"stock_code": c, "units": v[0], "revenue": money(v[1])} for c, v in rows]
        n = GRAINS[grain]
        rows = [(k, v) for k, v in self.invoices.items() if v["date"][:n] == period]
        rows.sort(key=lambda kv: (-kv[1]["revenue"], kv[0].encode()))
        return [{"invoice_no": k, "customer_id": v["customer"], "date": v["date"],
                 "revenue": money(v["revenue"])} for k, v in rows]


def same(what, got, want):
    if got != want:
        bad(f"{what}: shopflow says {got!r}, expected {want!r}")


def check_sales(fig, a, name):
    g = a["granularity"]
    periods = sorted(p for (gg, p) in fig.sales if gg == g and a["from"] <= p <= a["to"])
    same(f"{name}: periods", [b["period"] for b in a["buckets"]], periods)
    rev = units = lines = 0
    for b in a["buckets"]:
        s = fig.sales.get((g, b["period"]))
        if not s:
            continue
        rev, units, lines = rev + s[0], units + s[1], lines + s[2]
        want = {"period": b["period"], "revenue": money(s[0]), "units": s[1], "lines": s[2],
                "invoices": len(s[3]), "customers": len(s[4]),
                "average_invoice_value": money(div_round(s[0], len(s[3])))}
        same(f"{name}: bucket {b['period']}", b, want)
    same(f"{name}: totals", a["totals"], {"revenue": money(rev), "units": units, "lines": lines})
    with_sales = a["buckets_with_sales"]
    if with_sales:
        same(f"{name}: average per bucket with sales",
             a["average_per_bucket_with_sales"]["revenue"], money(div_round(rev, with_sales)))
        same(f"{name}: average units per bucket with sales",
             a["average_per_bucket_with_sales"]["units"], money(div_round(units * 1000,
                                                                          with_sales)))


def check_ranking(fig, a, name):
    q = a["question"]
    by_revenue = a.get("by") == "revenue"
    include_np = a.get("include_non_products", True)
    for p in a["periods"]:
        want = fig.ranking(q, a["period"], p["period"], by_revenue, include_np)[:a["limit"]]
        keys = want[0].keys() if want else ()
        got = [{k: it[k] for k in keys} for it in p["items"]]
        same(f"{name}: {q} of {a['period']} {p['period']}", got, want)
        same(f"{name}: ranks of {p['period']}", [it["rank"] for it in p["items"]],
             list(range(1, len(want) + 1)))


def check_profile(fig, a, name):
    key = "weekday" if a["by"] == "weekday" else "hour"
    for it in a["items"]:
        v = fig.profile[key].get(it[key], [0, 0, 0])
        same(f"{name}: {key} {it[key]}", [it["revenue"], it["units"], it["lines"]],
             [money(v[0]), v[1], v[2]])


def check_answer(fig, a, name):
    q = a["question"]
    if q == "sales":
        check_sales(fig, a, name)
    elif q == "profile":
        check_profile(fig, a, name)
    else:
        check_ranking(fig, a, name)


def answers(fig, files):
    for f in files:
        doc = json.load(open(f))
        if "question" in doc:
            check_answer(fig, doc, f)
        else:  # report --format json: one answer per section
            if not doc:
                bad(f"{f}: no sections")
            for section, a in doc.items():
                check_answer(fig, a, f"{f} {section}")


def invoice(fig, f):
    a = json.load(open(f))
    i = fig.invoices[a["invoice_no"]]
    same(f"{f}: invoice", [a["total"], a["units"], a["line_count"], len(a["lines"])],
         [money(i["revenue"]), i["units"], i["lines"], i["lines"]])
    same(f"{f}: its lines' amounts add up", money(sum(milli_of(x["amount"]) for x in a["lines"])),
         a["total"])


def rows(fig, f):
    seen = set()
    for text in open(f):
        r = text.rstrip("\n").split("|", 3 if text.startswith(("customers", "products")) else 9)
        seen.add(r[0])
        if r[0] == "facts":
            same(f"{f}: fact rows and their sum", [int(r[1]), int(r[2])], [fig.facts, fig.amounts])
        elif r[0] == "sales":
            s = fig.sales[(r[1], r[2])]
            same(f"{f}: bi_sales {r[1]} {r[2]}", [int(x) for x in r[3:8]],
                 [s[0], s[1], s[2], len(s[3]), len(s[4])])
        elif r[0] == "invoice":
            i = fig.invoices[r[1]]
            same(f"{f}: bi_invoice {r[1]}", [int(x) for x in r[2:5]],
                 [i["revenue"], i["units"], i["lines"]])
        elif r[0] == "customers":
            got = [[e[0], e[1], e[2], e[3], e[4]] for e in json.loads(r[3])]
            want = [[c, v[0], v[1], v[2], len(v[3])] for (g, p, c), v in sorted(
                fig.customers.items(), key=lambda kv: (-kv[1][0], kv[0][2]))
                if g == r[1] and p == r[2]]
            same(f"{f}: bi_customer {r[1]} {r[2]}", got, want)
        elif r[0] == "products":
            got = [e[:4] for e in json.loads(r[3])]
            want = [[c, v[0], v[1], v[2]] for (g, p, c), v in sorted(
                fig.products.items(), key=lambda kv: (-kv[1][0], kv[0][2].encode()))
                if g == r[1] and p == r[2]]
            same(f"{f}: bi_product.by_units {r[1]} {r[2]}", got, want)
    n_sales = sum(1 for t in open(f) if t.startswith("sales|"))
    same(f"{f}: bi_sales rows", n_sales, len(fig.sales))
    same(f"{f}: kinds of rows", sorted(seen),
         ["customers", "facts", "invoice", "products", "sales"])


def csv(fig, f):
    table = None
    for text in open(f):
        cells = text.rstrip("\n").split(",")
        if cells[0] == "table":
            table = cells
            continue
        row = dict(zip(table, cells))
        if row["table"] == "sales":
            s = fig.sales[(GRAIN_OF[len(row["period"])], row["period"])]
            same(f"{f}: sales {row['period']}", [row["revenue"], int(row["units"])],
                 [money(s[0]), s[1]])
        elif row["table"] == "top_invoices":
            same(f"{f}: invoice {row['key']}", row["revenue"],
                 money(fig.invoices[row["key"].strip('"')]["revenue"]))


GRAIN_OF = {n: g for g, n in GRAINS.items()}


def text(fig, f, grain):
    """The sales table's total line: every period's revenue with separators."""
    total = sum(s[0] for (g, _), s in fig.sales.items() if g == grain)
    sign = "-" if total < 0 else ""
    w, fr = divmod(abs(total), 1000)
    want = f"{sign}£{w:,}." + (f"{fr:03d}" if fr % 10 else f"{fr // 10:02d}")
    got = [t.split()[1] for t in open(f) if t.startswith("total ")]
    same(f"{f}: the total line", got[:1], [want])


def check(fig, f):
    a = json.load(open(f))
    same(f"{f}: check's figures", [a["rows"], a["revenue"], a["quantity"]],
         [fig.facts, money(fig.amounts), sum(i["units"] for i in fig.invoices.values())])


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2])
        return 0
    fig = Figures(json.load(open(sys.argv[2])))
    if cmd == "answer":
        answers(fig, sys.argv[3:])
    elif cmd == "invoice":
        invoice(fig, sys.argv[3])
    elif cmd == "rows":
        rows(fig, sys.argv[3])
    elif cmd == "csv":
        csv(fig, sys.argv[3])
    elif cmd == "text":
        text(fig, sys.argv[3], sys.argv[4])
    elif cmd == "check":
        check(fig, sys.argv[3])
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


sys.exit(main())
