"use strict";
/* Captioning: an image (drawn, uploaded or a held-out example) → caption and score
 * (serving_default) and the beam's alternatives (the export's "beams" signature, or
 * a photo model's serving_default, which also gives each word's attention map). */
(() => {

PANELS.captioning = {
  title: "Captioning",
  about: "Draw digits on the black pad (mouse, pen or touch), upload a picture of a house " +
         "number, or pick a held-out image. The model reads it and writes the digits as words.",
  build(frame, examples) {
    const pad = el("canvas", {class: "pad", width: 448, height: 160,
                              "aria-label": "drawing pad: draw digits with the mouse"});
    const context = pad.getContext("2d");
    const preview = el("img", {class: "preview", alt: "the image that will be sent",
                               width: 224, height: 80});
    const upload = el("input", {type: "file", accept: "image/*"});
    const clear = el("button", {type: "button", class: "secondary"}, "Clear the pad");
    const button = el("button", {type: "submit"}, "Caption");
    let chosen = null;  // {b64} of an upload or example; null: the pad
    let drawn = false;

    const blank = () => {
      context.fillStyle = "#000";
      context.fillRect(0, 0, pad.width, pad.height);
      drawn = false;
    };
    blank();
    const usePad = () => { chosen = null; preview.parentNode.hidden = true; };
    let last = null;
    const point = (event) => {
      const box = pad.getBoundingClientRect();
      return [(event.clientX - box.left) * pad.width / box.width,
              (event.clientY - box.top) * pad.height / box.height];
    };
    pad.addEventListener("pointerdown", (event) => {
      usePad();
      last = point(event);
      pad.setPointerCapture(event.pointerId);
    });
    pad.addEventListener("pointermove", (event) => {
      if (!last) return;
      const next = point(event);
      context.strokeStyle = "#fff";
      context.lineWidth = 14;
      context.lineCap = context.lineJoin = "round";
      context.beginPath();
      context.moveTo(...last);
      context.lineTo(...next);
      context.stroke();
      last = next;
      drawn = true;
    });
    pad.addEventListener("pointerup", () => { last = null; });
    clear.addEventListener("click", () => { blank(); usePad(); });
    const show = (b64) => {
      chosen = {b64};
      preview.src = `data:image/png;base64,${b64}`;
      preview.parentNode.hidden = false;
    };
    upload.addEventListener("change", async () => {
      if (upload.files.length) show(toBase64(await upload.files[0].arrayBuffer()));
    });
    const pick = (example) => {
      upload.value = "";
      const image = example.inputs.image;
      show(typeof image === "string" ? toBase64(new TextEncoder().encode(image)) : image.b64);
    };
    frame.form.append(
      el("div", {class: "drawing wide"}, pad, el("figure", {hidden: true}, preview,
         el("figcaption", {class: "muted"}, "the image that will be sent"))),
      clear, field(frame, "upload", "Upload an image", upload),
      exampleSelect(frame, examples, pick, "Held-out image"), button);
    onSubmit(frame, button, async () => {
      if (!chosen && !drawn) throw new Error("draw digits on the pad, upload an image or " +
                                             "pick a held-out one first");
      const b64 = chosen ? chosen.b64 : pad.toDataURL("image/png").split(",")[1];
      const inputs = {image: [{b64}]};
      const main = await api.predict(frame.model, inputs);
      if (main.score[0] === null || !Number.isFinite(main.score[0])) {
        throw new Error("the model could not read this image: it is not a PNG, JPEG, GIF " +
                        "or BMP picture");
      }
      // a photo model answers with its beam and attention; the digit reader has "beams"
      const beams = "alternatives" in main
        ? {captions: main.alternatives, scores: main.alternative_scores}
        : "beams" in SIGNATURES[frame.model]
          ? await api.predict(frame.model, inputs, "beams") : null;
      frame.result.replaceChildren(
        el("p", {class: "headline"}, "Caption: ",
           el("strong", {"data-role": "caption"}, main.caption[0] || "(no words)"),
           el("span", {class: "muted"}, " score (log-probability) "),
           el("span", {"data-role": "score"}, format(main.score[0]))),
        beams ? alternatives(beams) : "",
        "attention" in main ? await attentionMaps(b64, main.words[0], main.attention[0]) : "");
    });
  },
};

/* Per written word, the photo dimmed where the decoder did not look: attention
 * (L, h, w) over the encoder's grid, each map scaled to its own maximum. */
async function attentionMaps(b64, words, attention) {
  const image = new Image();
  image.src = `data:image/png;base64,${b64}`;  // the browser sniffs JPEG too
  await image.decode();
  const size = 112;
  const maps = words.filter((word) => word).map((word, t) => {
    const canvas = el("canvas", {width: size, height: size, "aria-label": `attention for ${word}`});
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, size, size);
    const grid = attention[t];
    const most = Math.max(...grid.flat(), 1e-9);
    const ch = size / grid.length, cw = size / grid[0].length;
    grid.forEach((row, i) => row.forEach((weight, j) => {
      context.fillStyle = `rgba(0, 0, 0, ${0.75 * (1 - weight / most)})`;
      context.fillRect(j * cw, i * ch, cw, ch);
    }));
    return el("figure", {class: "attention"}, canvas, el("figcaption", {}, word));
  });
  return el("div", {"data-role": "attention"},
    el("h3", {}, "Where it looked for each word"), el("div", {class: "drawing"}, ...maps));
}

function alternatives(beams) {
  const rows = beams.captions[0].map((caption, i) => [caption, beams.scores[0][i]])
    .filter(([, score]) => score !== null && Number.isFinite(score));
  return el("div", {},
    el("h3", {}, "The beam's alternatives"),
    el("table", {class: "alternatives", "data-role": "beams"},
       el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "#"),
                          el("th", {scope: "col"}, "caption"), el("th", {scope: "col"}, "score"))),
       el("tbody", {}, rows.map(([caption, score], i) => el("tr", {},
         el("td", {}, String(i + 1)), el("td", {}, caption || "(no words)"),
         el("td", {}, format(score)))))));
}
})();
