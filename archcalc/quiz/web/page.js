// archcalc quiz page: checks typed answers against the hashed key embedded in the page.
// The canonical forms and the iterated SHA-256 are those of archcalc/quiz/hashing.py.
"use strict";

const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function ror(x, n) {
  return (x >>> n) | (x << (32 - n));
}

// SHA-256 (FIPS 180-4) of a byte array; returns 32 bytes.
function sha256(message) {
  const length = message.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(message);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  view.setUint32(padded.length - 8, Math.floor((length * 8) / 4294967296));
  const hash = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = hash[0], b = hash[1], c = hash[2], d = hash[3];
    let e = hash[4], f = hash[5], g = hash[6], h = hash[7];
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    hash[0] += a; hash[1] += b; hash[2] += c; hash[3] += d;
    hash[4] += e; hash[5] += f; hash[6] += g; hash[7] += h;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(4 * i, hash[i]);
  return out;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function cellHash(salt, cell, canonical, iterations, length) {
  let value = sha256(new TextEncoder().encode(salt + "|" + cell + "|" + canonical));
  for (let i = 1; i < iterations; i++) value = sha256(value);
  return hex(value).slice(0, length);
}

// A number as written -> its canonical string, or null: archcalc/quiz/page_rules.py
// page_canonical, line for line. "n:<k>e<j>" is k x 10^j at the precision written ("+:w": a
// whole number written out without a unit, which archcalc check compares exactly first);
// "b:<k>e<j>:<unit>" a number of bytes in a unit (kb: 10^3 or 2^10 B; kib: 2^10; skb: SI kB).
const COUNT_SHIFT = { "": 0, k: 3, thousand: 3, m: 6, mil: 6, million: 6, millions: 6, g: 9, bn: 9,
  billion: 9, billions: 9, t: 12, trillion: 12 };
const BYTE_KEYS = { b: "b", byte: "b", bytes: "b", kb: "kb", mb: "mb", gb: "gb", tb: "tb", kib: "kib",
  mib: "mib", gib: "gib", tib: "tib" };
const COUNT_WORDS = /(flops?|macs?|mult-?adds?|madds?|ops|operations|params|parameters|param|weights|elements|values|floats|activations)$/;
const PLAIN_UNITS = ["", "elements", "element", "count", "values", "floats"];

function numberCanonical(text, columnUnit) {
  columnUnit = columnUnit || "";
  const cleaned = String(text).replace(/[\s,_'\u2019\u00a0\u202f\u2009]/g, "");
  const match = /^\+?(\d*)(?:\.(\d*))?([A-Za-z-]*)$/.exec(cleaned);
  if (!match || (!match[1] && !match[2])) return null;
  const whole = match[1] || "0";
  const decimals = match[2] || "";
  const point = match[2] !== undefined;
  const word = match[3] || (PLAIN_UNITS.includes(columnUnit.toLowerCase()) ? "" : columnUnit);
  let key = null, shift = 0, scaled;
  if (word === "kB") {
    key = "skb"; scaled = true;
  } else if (Object.prototype.hasOwnProperty.call(BYTE_KEYS, word.toLowerCase())) {
    key = BYTE_KEYS[word.toLowerCase()]; scaled = key !== "b";
  } else {
    const suffix = word.toLowerCase().replace(COUNT_WORDS, "").replace(/-+$/, "");
    if (!Object.prototype.hasOwnProperty.call(COUNT_SHIFT, suffix)) return null;
    shift = COUNT_SHIFT[suffix]; scaled = shift > 0;
  }
  let digits = (whole + decimals).replace(/^0+/, "") || "0";
  let exponent = -decimals.length + (key === null ? shift : 0);
  if (!point && (scaled || BigInt(whole) >= 1000n)) {
    // the trailing zeros of a whole number are not significant (as archcalc check reads them)
    while (digits.length > 1 && digits.endsWith("0")) {
      digits = digits.slice(0, -1);
      exponent += 1;
    }
  }
  const out = !point && !scaled;
  if (key === null) return "n:" + digits + "e" + exponent + (out ? ":w" : "");
  return "b:" + digits + "e" + exponent + ":" + key + (out && key === "b" ? ":w" : "");
}

function integers(text) {
  return (text.match(/-?\d+/g) || []).map((v) => parseInt(v, 10)).filter((v) => v >= 0);
}

// A shape as written -> the canonical strings it may mean (H x W x C or C x H x W).
function shapeCanonicals(text) {
  let dims = integers(text);
  if (dims.length === 4 || dims.length === 2) dims = dims.slice(1); // a batch axis
  if (dims.length === 3) {
    const [a, b, c] = dims;
    return ["s:" + a + "," + b + "," + c, "s:" + b + "," + c + "," + a];
  }
  return dims.length ? ["s:" + dims.join(",")] : [];
}

function rfCanonicals(text) {
  const dims = integers(text);
  if (dims.length === 1) return ["r:" + dims[0] + "," + dims[0]];
  if (dims.length === 2) return ["r:" + dims[0] + "," + dims[1]];
  return [];
}

function canonicals(kind, text, unit) {
  if (kind === "shape") return shapeCanonicals(text);
  if (kind === "rf") return rfCanonicals(text);
  const number = numberCanonical(text, unit);
  return number ? [number] : [];
}

// true (right), false (wrong), null (nothing typed)
function judge(quiz, variant, cell, text) {
  if (!text.trim()) return null;
  return canonicals(cell.kind, text, cell.unit).some((c) =>
    cell.hashes.includes(cellHash(variant.salt, cell.id, c, quiz.iterations, quiz.hex)));
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function show(quiz, variant) {
  const root = document.getElementById("exercise");
  root.replaceChildren();
  root.append(element("h2", {}, variant.title));
  const header = element("ul", { class: "header" });
  for (const line of variant.header) header.append(element("li", {}, line));
  root.append(header);
  root.append(element("div", { class: "statement" }, variant.statement));
  const asks = element("ul", { class: "asks" });
  for (const line of variant.instructions) asks.append(element("li", {}, line));
  root.append(asks);
  root.append(element("p", { class: "task" }, variant.task));
  const table = element("table", { id: "answers" });
  const head = element("tr", {});
  for (const heading of ["Layer", "Type", ...variant.columns]) head.append(element("th", {}, heading));
  table.append(element("thead", {}, head));
  const body = element("tbody", {});
  const inputs = [];
  variant.rows.forEach((row, r) => {
    const tr = element("tr", {}, element("td", { class: "label" }, row.label), element("td", { class: "kind" }, row.kind));
    row.cells.forEach((cell, c) => {
      const td = element("td", {});
      if (cell) {
        const input = element("input", { type: "text", id: "cell-" + r + "-" + c, "aria-label": row.label + ", " + variant.columns[c], autocomplete: "off", spellcheck: "false" });
        input.value = cell.shown || "";
        inputs.push([input, td, cell]);
        td.append(input);
      }
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
  root.append(element("div", { class: "table-box" }, table));
  const button = element("button", { id: "check", type: "button" }, "Check my answers");
  const score = element("p", { id: "score", role: "status" });
  button.addEventListener("click", () => {
    let right = 0, wrong = 0, empty = 0;
    for (const [input, td, cell] of inputs) {
      const verdict = judge(quiz, variant, cell, input.value);
      td.classList.remove("right", "wrong", "empty");
      td.classList.add(verdict === null ? "empty" : verdict ? "right" : "wrong");
      td.dataset.verdict = verdict === null ? "empty" : verdict ? "right" : "wrong";
      if (verdict === null) empty += 1; else if (verdict) right += 1; else wrong += 1;
    }
    score.textContent = right + " of " + inputs.length + " right, " + wrong + " wrong" + (empty ? ", " + empty + " not answered" : "");
  });
  root.append(button, score);
}

function start() {
  const quiz = JSON.parse(document.getElementById("quiz-data").textContent);
  const picker = document.getElementById("variant");
  quiz.variants.forEach((variant, i) => {
    const label = "Variant " + variant.number + (variant.student ? ": " + variant.student : "");
    picker.append(element("option", { value: String(i) }, label));
  });
  picker.addEventListener("change", () => show(quiz, quiz.variants[Number(picker.value)]));
  const wanted = new URLSearchParams(window.location.search).get("variant");
  const index = Math.max(0, quiz.variants.findIndex((v) => String(v.number) === wanted));
  picker.value = String(index);
  show(quiz, quiz.variants[index]);
}

if (typeof document !== "undefined") document.addEventListener("DOMContentLoaded", start);
if (typeof module !== "undefined") module.exports = { sha256, cellHash, numberCanonical, shapeCanonicals, rfCanonicals };
