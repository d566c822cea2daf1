#!/usr/bin/env python3
"""Regenerate the seed corpora in tests/fuzz/corpus/ from the bundled data.

Not part of the build: the corpus files are committed. Run it from anywhere
(python3 tests/fuzz/make_corpus.py) after changing the selection below.

Every corpus file starts with ONE CONTROL BYTE that the fuzz targets do not
decode: it picks the split point, the chunk size and (CSV) the text encoding
policy (see the comment at the top of fuzz_csv.c / fuzz_json.c). The rest of
the file is the input proper.
"""
import calendar
import csv
import datetime
import gzip
import io
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "online_retail.csv.gz")

# 1-based line numbers in the decompressed CSV (line 1 is the header).
PICK = {
    "first_rows": list(range(2, 24)),
    # commas and doubled quotes inside quoted cells, a quoted cell ending in a space
    "quoted": [111, 255, 873, 958, 1016, 1408, 1811, 540423],
    # cancellations (InvoiceNo C...), the A563185..A563187 bad-debt adjustments
    "cancel_adjust": [143, 156, 237, 4289, 14437, 14438, 14516, 15018, 222683,
                      317510, 299984, 299985, 299986],
    # empty descriptions, no customer, the pound sign, non-product codes
    "empty_nocust_pound": [624, 1972, 1445, 1446, 1816, 38250, 42059, 40385, 2241,
                           1425, 4408, 21328, 157197, 47],
    # warehouse notes, trailing spaces, countries with spaces
    "notes_countries": [154658, 323471, 345010, 152714, 20002, 395475, 168151, 69625,
                        1406],
}


def load():
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    return lines


def write(path, control, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes([control]) + payload)


def milli_text(price):
    """sf_format_milli: two decimals, a third when non-zero."""
    m = round(float(price) * 1000)
    sign = "-" if m < 0 else ""
    m = abs(m)
    s = "%s%d.%02d" % (sign, m // 1000, (m % 1000) // 10)
    if m % 10:
        s += str(m % 10)
    return s


def canonical(row):
    inv, code, desc, qty, date, price, cust, country = row
    return ("{" + '"invoice_no":' + json.dumps(inv) + ',"stock_code":' + json.dumps(code) +
            ',"description":' + json.dumps(desc) + ',"quantity":' + qty +
            ',"invoice_date":' + json.dumps(date) + ',"unit_price":' + json.dumps(milli_text(price)) +
            ',"customer_id":' + (str(int(float(cust))) if cust else "null") +
            ',"country":' + json.dumps(country) + "}")


def epoch_ms(date):
    d = datetime.datetime.strptime(date, "%Y-%m-%d %H:%M:%S")
    return calendar.timegm(d.timetuple()) * 1000


def main():
    lines = load()
    header = lines[0]
    out_csv = os.path.join(HERE, "corpus", "csv")
    out_json = os.path.join(HERE, "corpus", "json")
    controls = {"first_rows": 0x40, "quoted": 0x81, "cancel_adjust": 0x2A,
                "empty_nocust_pound": 0xC3, "notes_countries": 0x10}
    rows_all = []
    for name, nums in PICK.items():
        body = "\n".join([header] + [lines[n - 1] for n in nums]) + "\n"
        write(os.path.join(out_csv, name + ".csv"), controls[name], body.encode("utf-8"))
        rows_all += [lines[n - 1] for n in nums]

    rows = list(csv.reader(io.StringIO("\n".join(rows_all))))

    # The data.csv export's form: Latin-1, CRLF, M/D/YYYY H:MM, CustomerID 17850,
    # prices like 0 and 2.1 (0x03: split near the start, chunks of 4, latin1 policy).
    def us(date):
        d = datetime.datetime.strptime(date, "%Y-%m-%d %H:%M:%S")
        return "%d/%d/%d %d:%02d" % (d.month, d.day, d.year, d.hour, d.minute)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header.split(","))
    for r in rows[:30] + [x for x in rows if "\u00a3" in x[2]]:
        inv, code, desc, qty, date, price, cust, country = r
        p = price[:-2] if price.endswith(".0") else price
        w.writerow([inv, code, desc, qty, us(date), p, str(int(float(cust))) if cust else "",
                    country])
    write(os.path.join(out_csv, "datacsv_latin1_crlf.csv"), 0x05,
          buf.getvalue().encode("latin-1"))

    # Columns reordered, snake_case names, an unknown column, an event_id, a BOM,
    # a quoted cell holding a line break, ISO dates with T/Z/offset, and a few bad
    # rows (each a record error), so the error paths have seeds too.
    odd = ("\ufeffevent_id,country,invoice_no,Stock Code,NOTES,quantity,unit_price,"
           "invoice_date,customer_id,description\n"
           'ev-1,United Kingdom,536365,85123A,"note, with\nline break",6,2.55,'
           '2010-12-01T08:26:00Z,17850,WHITE HANGING HEART T-LIGHT HOLDER\n'
           'ev-2,France,536370,POST,,3,18,2010-12-01T09:45:00+01:00,12583,POSTAGE\n'
           'ev-3,EIRE,C536379,D,x,-1,27.50,2010-12-01 09:41,14527.0,Discount\n'
           '\n'
           'ev-4,United Kingdom,536381,82567,,2,2.1,2010-12-01 09:41:00, ,"AIRLINE LOUNGE,METAL SIGN"\n'
           'ev-5,United Kingdom,536381,82567,,two,2.1,2010-12-01 09:41:00,15311.0,bad quantity\n'
           'ev-6,United Kingdom,536381,82567,,2,2.5501,2010-12-01 09:41:00,15311.0,too precise\n'
           'ev-7,United Kingdom,536381,82567,,2,2.1,2010-02-30 09:41:00,15311.0,no such day\n'
           'ev-8,United Kingdom,536381,82567,,2,2.1,2010-12-01 09:41:00,15311.0\n'
           'ev-9,United Kingdom,536381,82567,,2,2.1,2010-12-01 09:41:00,15311.0,a,b\n'
           'ev-10,United Kingdom,536381,8"2567,,2,2.1,2010-12-01 09:41:00,15311.0,stray quote\n'
           'ev-11,United Kingdom,536381,"82567"x,,2,2.1,2010-12-01 09:41:00,15311.0,after quote\n'
           'ev-12,,536381,82567,,2,2.1,2010-12-01 09:41:00,15311.0,no country\r\n'
           'ev-13,United Kingdom,536381,82567,,2000000000,1000000,2010-12-01 09:41:00,15311.0,too much\r\n'
           'ev-14,United Kingdom,536381,82567,,1,1e3,2010-12-01 09:41:00,17850.5,half a customer\r\n'
           'ev-15,United Kingdom,536381,82567,,1,1,2010-12-01 09:41:00,,"unterminated\n')
    write(os.path.join(out_csv, "reordered_bom_errors.csv"), 0x99, odd.encode("utf-8"))

    # Regression: a file cut off inside a quoted cell (here the real line 111 cut
    # after "AIRLINE LOUNGE,METAL). The row used to vanish without an error,
    # because csv_fini returns -1 (not CSV_EPARSE) on an unclosed quote.
    cut = "\n".join([header] + [lines[n - 1] for n in range(100, 111)]) + "\n"
    cut += lines[110][: lines[110].index("METAL") + 5]
    write(os.path.join(out_csv, "regress_eof_in_quotes.csv"), 0xFF, cut.encode("utf-8"))

    # Regression: a line longer than the decoder's 64 KiB carry buffer is given to
    # libcsv in pieces when it arrives in small chunks (control byte 0x37: chunks of
    # 4 bytes). A quoting error in one piece dropped only that piece, and the next
    # piece started a new row, so chunked and whole feeds disagreed.
    bad = lines[1].replace("WHITE HANGING", 'WHITE "HANGING', 1)
    longl = bad + "," + "N" * 70000
    body = ("\n".join([header + ",Notes", longl + "\r\rx,y", lines[2] + ",short"])
            + "\n")
    write(os.path.join(out_csv, "regress_long_line_bad_quote.csv"), 0x37, body.encode("utf-8"))

    # Regression: a line longer than the carry buffer, with no final newline, in
    # one feed: it goes to libcsv straight from the caller's buffer, so at the end
    # the decoder finished an empty carry that was never allocated (NULL + 0 and
    # memchr(NULL, ..., 0): undefined behaviour UBSan reported, found by fuzzing).
    body = header + "\n" + lines[1] + "," + "N" * 70000
    write(os.path.join(out_csv, "regress_long_last_line.csv"), 0x00, body.encode("utf-8"))

    # JSON: the canonical NDJSON of every other picked row (keeps it small).
    nd = "".join(canonical(r) + "\n" for r in rows[::2])
    write(os.path.join(out_json, "canonical.ndjson"), 0x40, nd.encode("utf-8"))

    # An array of objects with the CSV header names and the values as CSV text,
    # pretty-printed (records span lines; errors name them by index).
    names = header.split(",")
    arr = [dict(zip(names, r)) for r in rows[:20]]
    write(os.path.join(out_json, "array_pretty.json"), 0x81,
          json.dumps(arr, indent=1, ensure_ascii=False).encode("utf-8"))

    # Dataframe-style rows (pandas to_json(orient="records", lines=True)): numbers
    # as numbers, CustomerID as 17850.0 or null, InvoiceDate as epoch milliseconds.
    df = []
    for r in rows[:25] + [x for x in rows if "\u00a3" in x[2]]:
        inv, code, desc, qty, date, price, cust, country = r
        df.append('{"InvoiceNo":%s,"StockCode":%s,"Description":%s,"Quantity":%s,'
                  '"InvoiceDate":%d,"UnitPrice":%s,"CustomerID":%s,"Country":%s}' % (
                      json.dumps(inv), json.dumps(code),
                      json.dumps(desc) if desc else "null", qty, epoch_ms(date), price,
                      cust if cust else "null", json.dumps(country)))
    write(os.path.join(out_json, "dataframe_lines.ndjson"), 0x2A,
          ("\n".join(df) + "\n").encode("utf-8"))

    # Dataframe rows with every value as a string (a float column written as text),
    # in one array on one line, snake_case keys, ISO dates.
    ds = []
    for r in rows[25:45]:
        inv, code, desc, qty, date, price, cust, country = r
        ds.append({"invoice_no": inv, "stock_code": code, "description": desc,
                   "quantity": qty + ".0", "invoice_date": date.replace(" ", "T"),
                   "unit_price": price, "customer_id": cust, "country": country})
    write(os.path.join(out_json, "dataframe_strings_array.json"), 0xC3,
          json.dumps(ds, separators=(",", ":"), ensure_ascii=True).encode("utf-8"))

    # Odd but valid shapes and record errors: a BOM, one object over several lines,
    # unknown keys with nested values, event ids, escapes, then bad records.
    odd = ("\ufeff{\"event_id\":\"e1\",\"invoice_no\":\"536365\",\"extra\":{\"a\":[1,{\"b\":null}]},\n"
           " \"stock_code\":\"85123A\",\"description\":\"WHITE \\\"HEART\\\"\\u00a3\\n\",\n"
           " \"quantity\":6,\"invoice_date\":\"2010-12-01 08:26:00\",\"unit_price\":2.55e0,\n"
           " \"customer_id\":\"17850.0\",\"country\":\"United Kingdom\"}\n"
           "{\"InvoiceNo\":536366.0,\"StockCode\":\"22633\",\"Quantity\":\"6\",\"InvoiceDate\":"
           "\"2010-12-01T08:28:00.000Z\",\"UnitPrice\":\"1.85\",\"CustomerID\":\"\",\"Country\":\"UK\"}\n"
           "{\"invoice_no\":\"536367\",\"stock_code\":\"84879\",\"quantity\":true,"
           "\"invoice_date\":\"2010-12-01 08:34:00\",\"unit_price\":\"1.69\",\"country\":\"UK\"}\n"
           "{\"invoice_no\":\"536367\",\"stock_code\":[\"84879\"],\"quantity\":32,"
           "\"invoice_date\":\"2010-12-01 08:34:00\",\"unit_price\":\"1.69\",\"country\":\"UK\"}\n"
           "{\"invoice_no\":\"536367\",\"invoice_no\":\"1\",\"stock_code\":\"84879\",\"quantity\":32,"
           "\"invoice_date\":1291192440001,\"unit_price\":\"1.69\",\"country\":\"UK\"}\n"
           "{\"invoice_no\":\"536368\",\"stock_code\":\"22960\",\"quantity\":6,"
           "\"invoice_date\":1291192680000,\"unit_price\":4.25,\"customer_id\":null}\n"
           "17\n\"text\"\nnull\n[{\"invoice_no\":\"1\"}, 3, [], {}]\n"
           "{\"invoice_no\":\"536369\",\"stock_code\":\"21756\",\"quantity\":3,"
           "\"invoice_date\":\"2010-12-01 08:35:00\",\"unit_price\":5.95,\"country\":\"UK\"}\n"
           "{\"invoice_no\": \"5")
    write(os.path.join(out_json, "odd_shapes_errors.json"), 0x03, odd.encode("utf-8"))


if __name__ == "__main__":
    main()
