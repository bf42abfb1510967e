"use strict";
/* Frame tagging: a stream of frames → one label per frame (serving_default), drawn as a
 * timeline under the signal. A .csv/.npy file is read into numbers here, in the browser,
 * and sent as the "frames" input; the server checks its shape. */
(() => {

PANELS.frame_tagging = {
  title: "Frame tagging",
  about: "Upload a stream (.csv: one frame per line, the channels separated by commas; or .npy " +
         "of shape (T, channels)), or pick a held-out stream. The model labels every frame.",
  build(frame, examples) {
    const upload = el("input", {type: "file", accept: ".csv,.npy,text/csv"});
    const button = el("button", {type: "submit"}, "Label the frames");
    let stream = null;  // {frames: nested arrays (T, ...), truth?: [names], title}
    let names = examples.length && examples[0].labels ? examples[0].labels : [];
    upload.addEventListener("change", () => { stream = null; select && (select.value = ""); });
    const pick = (example) => {
      upload.value = "";
      const n = example.inputs.lengths;
      stream = {frames: example.inputs.frames.slice(0, n), truth: example.truth,
                title: example.title};
    };
    const selectField = exampleSelect(frame, examples, pick, "Held-out stream");
    const select = selectField && selectField.querySelector("select");
    frame.form.append(field(frame, "upload", "Stream file (.csv or .npy)", upload),
                      selectField, button);
    onSubmit(frame, button, async () => {
      if (upload.files.length) stream = await readStream(upload.files[0], frameShape(frame));
      if (!stream) throw new Error("upload a .csv or .npy stream or pick a held-out one first");
      if (!stream.frames.length) throw new Error("the stream has no frames");
      const out = await api.predict(frame.model, {frames: [stream.frames],
                                                  lengths: [stream.frames.length]});
      const predicted = out.labels[0].slice(0, stream.frames.length);
      for (const name of [...(stream.truth || []), ...predicted]) {
        if (!names.includes(name)) names = [...names, name];
      }
      frame.result.replaceChildren(...timeline(stream, predicted, names));
    });
  },
};

/** The shape of one frame, from the signature: frames (B, T, ...) → [...]; null if unknown. */
function frameShape(frame) {
  const spec = SIGNATURES[frame.model].serving_default.inputs.frames;
  const dims = ((spec.tensor_shape || {}).dim || []).map((d) => Number(d.size));
  return dims.length > 2 && dims.slice(2).every((d) => d > 0) ? dims.slice(2) : null;
}

async function readStream(file, shape) {
  const name = file.name.toLowerCase();
  let array;
  if (name.endsWith(".npy")) array = parseNpy(await file.arrayBuffer());
  else if (name.endsWith(".csv")) array = parseCsv(await file.text());
  else throw new Error(`${file.name}: expected a .csv or .npy file`);
  if (array.shape.length < 2) {
    throw new Error(`${file.name} holds an array of shape (${array.shape.join(", ")}); a ` +
                    "stream is (frames, channels)");
  }
  const found = array.shape.slice(1);
  if (shape && (found.length !== shape.length || found.some((d, i) => d !== shape[i]))) {
    throw new Error(`${file.name} holds frames of shape (${found.join(", ")}); this model ` +
                    `reads frames of shape (${shape.join(", ")})` +
                    (shape.length === 1 ? `: ${shape[0]} channels per line` : ""));
  }
  return {frames: nest(array), title: file.name};
}

function timeline(stream, predicted, names) {
  const ids = (labels) => labels.map((name) => names.indexOf(name));
  const rows = [...(stream.truth ? [["true", ids(stream.truth)]] : []),
                ["predicted", ids(predicted)]];
  const parts = [el("p", {class: "headline"}, `${predicted.length} frames of `,
                    el("strong", {}, stream.title))];
  if (typeof stream.frames[0][0] === "number") {  // a sensor stream (T, C): its channels
    const channels = stream.frames[0].length;
    const series = [];
    for (let c = 0; c < Math.min(channels, 12); c++) series.push(stream.frames.map((f) => f[c]));
    parts.push(linePlot(series, 1000, 160, `signal: ${channels} channels over ` +
                        `${predicted.length} frames`, null, TIMELINE_LEFT));
  }
  parts.push(labelTimeline(rows, names, 1000), legend(names));
  const runs = [];
  predicted.forEach((name, i) => {
    if (!i || name !== predicted[i - 1]) runs.push([name, i, i]);
    else runs[runs.length - 1][2] = i;
  });
  parts.push(el("p", {"data-role": "segments", "data-labels": JSON.stringify(predicted)},
                el("span", {class: "muted"}, "Predicted: "),
                runs.map(([name, a, b]) => `${name} ${a}–${b}`).join(", ")));
  return parts;
}
})();
