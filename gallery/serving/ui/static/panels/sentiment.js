"use strict";
/* Sentiment: text → label and probabilities (serving_default), and the probabilities after
 * each word (the export's "prefixes" signature). */
(() => {

PANELS.sentiment = {
  title: "Sentiment",
  about: "Type a review. The model gives a label with the probability of each label; below, " +
         "what it would have said after each word (the recurrent state reading the text).",
  build(frame, examples) {
    const text = el("textarea", {rows: 3, placeholder: "a wonderful film, but far too long"});
    const button = el("button", {type: "submit"}, "Classify");
    frame.form.append(field(frame, "text", "Review text", text, true),
                      exampleSelect(frame, examples, (e) => { text.value = e.inputs.text; }),
                      button);
    onSubmit(frame, button, async () => {
      if (!text.value.trim()) throw new Error("type a review first: the text box is empty");
      const main = await api.predict(frame.model, {text: [text.value]});
      const prefixes = "prefixes" in SIGNATURES[frame.model]
        ? await api.predict(frame.model, {text: [text.value]}, "prefixes") : null;
      frame.result.replaceChildren(...render(main, prefixes));
    });
  },
};

function render(main, prefixes) {
  const probabilities = main.probabilities[0];
  const names = prefixes ? prefixes.label_names[0]
    : probabilities.map((_, i) => `label ${i}`);
  const out = [
    el("p", {class: "headline"}, "Label: ", el("strong", {"data-role": "label"}, main.label[0]),
       el("span", {class: "muted"}, " with probability "),
       el("span", {"data-role": "probability"}, format(main.probability[0]))),
    probabilityBars(names, probabilities),
  ];
  if (!prefixes) return out;
  const n = prefixes.lengths[0];
  const best = probabilities.indexOf(Math.max(...probabilities));
  const rows = prefixes.probabilities[0].slice(0, n);
  const chips = prefixes.tokens[0].slice(0, n).map((token, t) => {
    const p = rows[t];
    const top = p.indexOf(Math.max(...p));
    const strength = (p[top] - 1 / p.length) / (1 - 1 / p.length);  // 0 = undecided
    // at most 60% of the label colour over the panel: dark text keeps >= 4.5:1 contrast
    const tint = Math.round(30 + 123 * Math.max(0, strength)).toString(16).padStart(2, "0");
    const described = names.map((name, k) => `${name} ${format(p[k])}`).join(", ");
    return el("span", {style: {background: `${PALETTE[top % PALETTE.length]}${tint}`},
                       title: `after “${token}”: ${described}`, "data-token": token,
                       "data-probability": p[best].toFixed(6), tabindex: 0,
                       "aria-label": `after ${token}: ${described}`}, shownToken(token));
  });
  out.push(el("h3", {}, `After each word: probability of “${names[best]}”`),
           legend(names),
           el("div", {class: "tokens", "data-role": "prefixes"}, chips),
           linePlot([rows.map((p) => p[best])], 1000, 110,
                    `probability of ${names[best]} after each word`, [0, 1]));
  if (!n) out.push(el("p", {class: "muted"}, "No word of this text is in the vocabulary."));
  return out;
}
})();
