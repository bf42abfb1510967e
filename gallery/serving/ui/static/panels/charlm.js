"use strict";
/* Character language model: a prime → the text the model writes after it (the export's
 * "generate" signature, which takes the length, temperature and seed as inputs). */
(() => {

PANELS.charlm = {
  title: "Character language model",
  about: "Give the start of a text. The model writes on, one character at a time; a low " +
         "temperature picks likely characters, a high one takes more risks.",
  build(frame, examples) {
    const prime = el("input", {type: "text", size: 40, value: "def "});
    const temperature = el("input", {type: "number", min: 0, max: 2, step: 0.1, value: 0.5});
    const length = el("input", {type: "number", min: 1, max: 2000, step: 1, value: 200});
    const seed = el("input", {type: "number", min: 0, step: 1, value: 0});
    const button = el("button", {type: "submit"}, "Generate");
    const knobs = "generate" in SIGNATURES[frame.model];
    frame.form.append(field(frame, "prime", "Prime text", prime),
                      ...(knobs ? [field(frame, "temperature", "Temperature (0–2)", temperature),
                                   field(frame, "length", "Characters (1–2000)", length),
                                   field(frame, "seed", "Seed", seed)] : []),
                      exampleSelect(frame, examples, (e) => { prime.value = e.inputs.prime; }),
                      button);
    onSubmit(frame, button, async () => {
      let out;
      if (knobs) {
        const t = Number(temperature.value), n = Number(length.value), s = Number(seed.value);
        if (temperature.value === "" || !(t >= 0 && t <= 2)) {
          throw new Error("the temperature must be a number from 0 to 2");
        }
        if (!Number.isInteger(n) || n < 1 || n > 2000) {
          throw new Error("the number of characters must be a whole number from 1 to 2000");
        }
        if (!Number.isInteger(s) || s < 0 || s > 2147483647) {
          throw new Error("the seed must be a whole number from 0 to 2147483647");
        }
        out = await api.predict(frame.model, {prime: [prime.value], length: n,
                                              temperature: t, seed: s}, "generate");
      } else {
        out = await api.predict(frame.model, {prime: [prime.value]});
      }
      frame.result.replaceChildren(el("pre", {class: "generated", "data-role": "generated"},
                                      el("mark", {title: "your prime"}, prime.value),
                                      el("span", {"data-role": "text"}, out.text[0])));
    });
  },
};
})();
