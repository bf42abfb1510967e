"use strict";
/* Shared by every panel: the REST calls, DOM building and error display.
 * Results only ever come from the server's TF-Serving API (POST /v1/models/NAME:predict). */

/** Build an element: el("p", {class: "x"}, "text", child, ...). A style is given as an
 * object of CSS properties ({style: {width: "40%"}}), set one property at a time: the
 * server's Content-Security-Policy (style-src 'self') refuses style attributes. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/** JSON that may hold bare NaN/Infinity (TF Serving and Python write them) → null. */
function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch (first) {
    const cleaned = text.replace(/([:,\[]\s*)-?(?:Infinity|NaN)(?=\s*[,\]}])/g, "$1null");
    return JSON.parse(cleaned);
  }
}

const api = {
  /** GET a JSON document; throws an Error with a readable message. */
  async get(path) {
    return this._answer(await this._fetch(path, {}));
  },
  /** POST a columnar predict request {"inputs": {...}} to a signature; → {name: value}. */
  async predict(model, inputs, signature) {
    const body = {inputs};
    if (signature) body.signature_name = signature;
    const response = await this._fetch(`/v1/models/${encodeURIComponent(model)}:predict`, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const answer = await this._answer(response);
    const outputs = answer.outputs;
    // one output comes back as its bare value: name it after the signature's only output
    if (outputs === null || typeof outputs !== "object" || Array.isArray(outputs)) {
      return {[signatureOutputs(model, signature || "serving_default")[0]]: outputs};
    }
    return outputs;
  },
  async _fetch(path, options) {
    try {
      return await fetch(path, options);
    } catch (error) {
      throw new Error(`the server did not answer (${error.message}); is gallery serve running?`);
    }
  },
  async _answer(response) {
    const text = await response.text();
    let data;
    try {
      data = parseJSON(text);
    } catch (error) {
      throw new Error(`the server answered ${response.status} with something that is not JSON`);
    }
    if (!response.ok || (data && data.error)) {
      throw new Error((data && data.error) || `the server answered ${response.status}`);
    }
    return data;
  },
};

/** Signature defs by model: filled by app.js from /v1/models/NAME/metadata. */
const SIGNATURES = {};

function signatureOutputs(model, signature) {
  const def = (SIGNATURES[model] || {})[signature] || {};
  return Object.keys(def.outputs || {});
}

/** A panel's frame: heading, form, error box (role=alert) and result area (live). */
function panelFrame(model, title, about) {
  const id = `panel-${model.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const form = el("form", {novalidate: true});
  const error = el("div", {class: "error", role: "alert"});
  const result = el("div", {class: "result", "aria-live": "polite"});
  const section = el("section", {class: "panel", id, "data-model": model,
                                 "aria-labelledby": `${id}-title`},
    el("h2", {id: `${id}-title`}, title, " ", el("small", {}, `model “${model}”`)),
    el("p", {class: "about"}, about), form, error, result);
  return {section, form, error, result, id, model};
}

/** A labelled control: label + input, tied by id. */
function field(frame, key, labelText, control, wide) {
  control.id = `${frame.id}-${key}`;
  return el("div", {class: wide ? "field wide" : "field"},
            el("label", {for: control.id}, labelText), control);
}

/** Run an async panel action: button busy, old error cleared, any failure shown. */
async function runPanel(frame, button, action) {
  frame.error.textContent = "";
  button.disabled = true;
  frame.section.setAttribute("aria-busy", "true");
  try {
    await action();
  } catch (error) {
    frame.result.replaceChildren();
    frame.error.textContent = readable(error);
  } finally {
    button.disabled = false;
    frame.section.removeAttribute("aria-busy");
  }
}

/** The panel's form submits (button or Enter) run ``action`` through runPanel. */
function onSubmit(frame, button, action) {
  frame.form.addEventListener("submit", (event) => {
    event.preventDefault();
    runPanel(frame, button, action);
  });
}

function readable(error) {
  const message = (error && error.message) || String(error);
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/** Held-out examples written beside the export (gallery demo): [{title, inputs, truth?}]. */
async function loadExamples(model) {
  try {
    return (await api.get(`/ui/examples/${encodeURIComponent(model)}`)).examples || [];
  } catch (error) {
    return [];
  }
}

/** A <select> of examples; onPick(example) fills the panel's inputs. */
function exampleSelect(frame, examples, onPick, labelText) {
  if (!examples.length) return "";
  const select = el("select", {},
    el("option", {value: ""}, "— choose —"),
    examples.map((example, i) => el("option", {value: String(i)}, example.title)));
  select.addEventListener("change", () => {
    if (select.value !== "") onPick(examples[Number(select.value)]);
  });
  return field(frame, "example", labelText || "Held-out example", select);
}

/** Bytes (ArrayBuffer or Uint8Array) → base64. */
function toBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (let i = 0; i < view.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, view.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function format(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? "—"
    : value.toFixed(digits === undefined ? 3 : digits);
}

/** Panels register here by kind: PANELS[kind] = {title, build(frame, examples)}. */
const PANELS = {};
