"use strict";
/* The page: one panel per served model. A model's kind is read from its signatures
 * (GET /v1/models/NAME/metadata), so any gallery export gets the right panel. */
(() => {

function kindOf(signatures) {
  const main = signatures.serving_default || {};
  const inputs = Object.keys(main.inputs || {}), outputs = Object.keys(main.outputs || {});
  if (outputs.includes("caption")) return "captioning";
  if (outputs.includes("translation")) return "translation";
  if (inputs.includes("frames")) return "frame_tagging";
  if (inputs.includes("prime")) return "charlm";
  if (inputs.includes("text") && outputs.includes("probabilities")) return "sentiment";
  return null;
}

async function addPanel(main, links, name) {
  const frame = panelFrame(name, name, "");
  main.append(frame.section);
  try {
    const metadata = await api.get(`/v1/models/${encodeURIComponent(name)}/metadata`);
    SIGNATURES[name] = metadata.metadata.signature_def.signature_def;
    const kind = kindOf(SIGNATURES[name]);
    if (!kind) {
      frame.section.querySelector("p.about").textContent = "This model's signatures (" +
        Object.keys(SIGNATURES[name]).join(", ") + ") have no panel here; call its REST API.";
      return;
    }
    const panel = PANELS[kind];
    frame.section.dataset.kind = kind;
    frame.section.querySelector("h2").firstChild.textContent = panel.title;
    frame.section.querySelector("p.about").textContent = panel.about;
    links.append(el("li", {}, el("a", {href: `#${frame.id}`}, panel.title)));
    panel.build(frame, await loadExamples(name));
  } catch (error) {
    frame.error.textContent = `This panel could not start: ${readable(error)}`;
  }
}

async function start() {
  const main = document.getElementById("panels");
  const status = document.getElementById("page-status");
  const links = document.getElementById("model-links");
  try {
    const {models} = await api.get("/ui/models");
    if (!models.length) {
      status.textContent = "The server has no models loaded.";
      return;
    }
    for (const name of models) await addPanel(main, links, name);
    status.textContent = `${models.length} model${models.length > 1 ? "s" : ""} loaded.`;
    status.className = "muted";
  } catch (error) {
    status.textContent = `The models could not be listed: ${readable(error)}`;
    status.className = "error";
  }
  document.body.dataset.ready = "true";
}

window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();  // every action catches its errors; this is a last resort
  const status = document.getElementById("page-status");
  status.textContent = `Something went wrong: ${readable(event.reason)}`;
  status.className = "error";
});
start();
})();
