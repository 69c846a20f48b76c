#!/usr/bin/env node
// Score JSON rows with an automl-guide model.onnx from Node.js.
//
//   node score.js RUN_DIR ROWS.json
//
// RUN_DIR holds model.onnx and model_card.json (a path to model.onnx works too). ROWS.json is a
// JSON array of objects keyed by the original column names. Prints one JSON object to stdout:
// {"label": [...], "probabilities": [[...], ...], "classes": [...]} for classification,
// {"value": [...]} for regression. Bad input exits with code 2 and a message on stderr.
//
// Raw values become graph inputs the way automl_guide/columns.py (coerce_column) makes them:
// numeric columns float32 (null -> NaN), integer/boolean/datetime columns int64 (datetimes as
// whole seconds since the epoch in UTC, a missing one as the smallest int64), categorical and
// text columns strings (null -> "").
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const ort = require("onnxruntime-node");

const MISSING_DATETIME = -(2n ** 63n);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_DATETIME = new RegExp(
  "^(\\d{4})-(\\d{1,2})-(\\d{1,2})" + // date
  "(?:[T ](\\d{1,2}):(\\d{2})(?::(\\d{2})(?:\\.\\d+)?)?)?" + // optional time
  "\\s*(Z|[+-]\\d{2}(?::?\\d{2})?)?$", // optional UTC offset; none means UTC, as in Python
  "i");

class InputError extends Error {}

function isMissing(value) {
  return value === null || value === undefined || Number.isNaN(value);
}

function fail(column, row, value, need) {
  throw new InputError(
    `Column ${JSON.stringify(column.name)} ${need}, but row ${row} has ${JSON.stringify(value)}.`);
}

// A number from a JSON value (strings like "2.5" too, as pandas.to_numeric reads them).
function toNumber(value, column, row) {
  if (isMissing(value)) return NaN;
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" && NUMBER.test(value.trim())) return Number(value.trim());
  return fail(column, row, value, `needs numbers (${column.kind} in training)`);
}

function toWhole(value, column, row) {
  if (column.kind === "boolean" && typeof value === "string") {
    const word = { true: 1, false: 0, yes: 1, no: 0 }[value.trim().toLowerCase()];
    if (word !== undefined) return BigInt(word);
  }
  const number = toNumber(value, column, row);
  if (!Number.isInteger(number)) {
    fail(column, row, value,
      "needs whole numbers without missing values (it had none in training)");
  }
  return BigInt(number);
}

// Whole seconds since the epoch (UTC) of an ISO 8601 date or datetime string. Fractions of a
// second are dropped: numpy's cast to datetime64[s] floors, and so does this.
function toSeconds(value, column, row) {
  if (isMissing(value)) return MISSING_DATETIME;
  const m = typeof value === "string" ? ISO_DATETIME.exec(value.trim()) : null;
  const [y, mo, d, h, mi, s] = m ? m.slice(1, 7).map((x) => Number(x || 0)) : [];
  const when = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (!m || when.getUTCFullYear() !== y || when.getUTCMonth() !== mo - 1 || when.getUTCDate() !== d
      || when.getUTCHours() !== h || when.getUTCMinutes() !== mi || when.getUTCSeconds() !== s) {
    fail(column, row, value, "needs ISO 8601 dates or datetimes");
  }
  return BigInt(when.getTime() / 1000 - offsetMinutes(m[7]) * 60);
}

// Minutes east of UTC of "Z", "+02:00", "-0530" or "+02"; a datetime without one is UTC.
function offsetMinutes(zone) {
  if (!zone || zone.toUpperCase() === "Z") return 0;
  const digits = zone.replace(":", "");
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || 0);
  return digits[0] === "-" ? -minutes : minutes;
}

function toText(value) {
  if (isMissing(value)) return "";
  if (typeof value === "boolean") return value ? "True" : "False"; // Python's str(True)
  return typeof value === "string" ? value : String(value);
}

// The [N, 1] input tensor of one column.
function columnTensor(column, rows) {
  const raw = rows.map((r) => r[column.name]);
  const shape = [rows.length, 1];
  if (column.dtype === "float") {
    const numbers = raw.map((v, i) => toNumber(v, column, i));
    const finite = numbers.map((x) => (Number.isFinite(x) ? x : NaN)); // inf -> NaN, as in Python
    return new ort.Tensor("float32", Float32Array.from(finite), shape);
  }
  if (column.dtype === "int64") {
    const convert = column.kind === "datetime" ? toSeconds : toWhole;
    const values = raw.map((v, i) => convert(v, column, i));
    return new ort.Tensor("int64", BigInt64Array.from(values), shape);
  }
  if (column.dtype === "string") return new ort.Tensor("string", raw.map(toText), shape);
  throw new InputError(`Column ${JSON.stringify(column.name)} has unknown dtype ${column.dtype}.`);
}

function feedsFor(card, rows) {
  const present = new Set(rows.flatMap((r) => Object.keys(r)));
  const missing = card.inputs.filter((c) => !present.has(c.name))
    .map((c) => JSON.stringify(c.name));
  if (missing.length) {
    throw new InputError(`Missing column(s) ${missing.join(", ")} that the model needs.`);
  }
  return Object.fromEntries(card.inputs.map((c) => [c.onnx_name, columnTensor(c, rows)]));
}

function readJson(file, what) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`Cannot read ${what} ${file}: ${err.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`The ${what} ${file} is not valid JSON: ${err.message}`);
  }
}

// Model path and card for a run directory or a model.onnx path.
function openRun(runPath) {
  const isDir = fs.existsSync(runPath) && fs.statSync(runPath).isDirectory();
  const model = isDir ? path.join(runPath, "model.onnx") : runPath;
  if (!fs.existsSync(model)) throw new InputError(`No model file at ${model}.`);
  const card = readJson(path.join(path.dirname(model), "model_card.json"), "model card");
  return { model, card };
}

/** Score `rows` (objects keyed by raw column names) with the model in `runPath`. */
async function score(runPath, rows) {
  const { model, card } = openRun(runPath);
  if (!Array.isArray(rows) || rows.length === 0 || !rows.every((r) => r && typeof r === "object")) {
    throw new InputError("Rows must be a non-empty JSON array of objects.");
  }
  const feeds = feedsFor(card, rows);
  let session;
  try {
    session = await ort.InferenceSession.create(model);
  } catch (err) {
    throw new InputError(`${model} is not a usable ONNX model: ${err.message}`);
  }
  const out = await session.run(feeds);
  if (card.task === "regression") return { value: Array.from(out.value.data) };
  const classes = card.class_labels;
  const flat = Array.from(out.probabilities.data);
  const probabilities = rows.map((_, i) =>
    flat.slice(i * classes.length, (i + 1) * classes.length));
  // The label is the card's class of the (first) arg-max, as Predictor.predict answers it.
  const argmax = (p) => p.reduce((best, x, j) => (x > p[best] ? j : best), 0);
  const label = probabilities.map((p) => classes[argmax(p)]);
  return { label, probabilities, classes };
}

async function main(argv) {
  if (argv.length !== 2) {
    throw new InputError("usage: node score.js RUN_DIR ROWS.json");
  }
  const result = await score(argv[0], readJson(argv[1], "rows file"));
  process.stdout.write(JSON.stringify(result) + "\n");
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(err instanceof InputError ? 2 : 1);
  });
}

module.exports = { score, feedsFor, InputError };
