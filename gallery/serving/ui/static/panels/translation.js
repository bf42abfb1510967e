"use strict";
/* Translation: a sentence → its translation and score (serving_default) and where the decoder
 * looked while writing each word (the export's "attention" signature). */
(() => {

PANELS.translation = {
  title: "Translation",
  about: "Type a sentence in the source language. The model translates it; the heat map shows " +
         "the attention weights: for each word it wrote (rows), how much it looked at each " +
         "source word (columns).",
  build(frame, examples) {
    const text = el("input", {type: "text", size: 60, placeholder: "a sentence to translate"});
    const button = el("button", {type: "submit"}, "Translate");
    frame.form.append(field(frame, "text", "Sentence", text, true),
                      exampleSelect(frame, examples, (e) => { text.value = e.inputs.text; }),
                      button);
    onSubmit(frame, button, async () => {
      if (!text.value.trim()) throw new Error("type a sentence first: the text box is empty");
      const main = await api.predict(frame.model, {text: [text.value]});
      if (main.score[0] === null) {
        throw new Error("no word of this sentence is in the model's source vocabulary");
      }
      const attention = "attention" in SIGNATURES[frame.model]
        ? await api.predict(frame.model, {text: [text.value]}, "attention") : null;
      frame.result.replaceChildren(
        el("p", {class: "headline"}, "Translation: ",
           el("strong", {"data-role": "translation"}, main.translation[0]),
           el("span", {class: "muted"}, " score "),
           el("span", {"data-role": "score"}, format(main.score[0]))),
        main.truncated && main.truncated[0]
          ? el("p", {class: "muted"}, "The sentence was longer than the model reads; " +
               "its end was cut.") : "",
        attention ? heatmap(attention) : "");
    });
  },
};

function heatmap(attention) {
  const sources = attention.source_tokens[0].slice(0, attention.source_lengths[0]);
  const targets = attention.output_tokens[0].slice(0, attention.output_lengths[0]);
  const weights = attention.weights[0];
  // colours scaled to the largest weight shown (vmin 0), as attention.png draws them
  let top = 0;
  targets.forEach((_, t) => sources.forEach((_, s) => { top = Math.max(top, weights[t][s]); }));
  return el("div", {class: "heatmap"},
    el("h3", {id: "attention-title"}, "Attention"),
    el("p", {class: "muted"}, "Rows: the words written; columns: the source words; darker " +
                              `is more attention (darkest: ${format(top)}).`),
    el("table", {"data-role": "attention", "aria-labelledby": "attention-title"},
       el("thead", {}, el("tr", {}, el("td", {}),
                          sources.map((s) => el("th", {scope: "col"}, shownToken(s))))),
       el("tbody", {}, targets.map((target, t) => el("tr", {},
         el("th", {scope: "row"}, shownToken(target)),
         sources.map((source, s) => {
           const colour = heatColour(top > 0 ? weights[t][s] / top : 0);
           return el("td", {style: {background: colour.background},
                            "data-weight": weights[t][s].toFixed(6),
                            title: `${shownToken(target)} ← ${shownToken(source)}: ` +
                                   format(weights[t][s])});
         }))))));
}
})();
