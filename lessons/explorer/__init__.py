"""An LSTMVis-style explorer of a recurrent layer's hidden states (one HTML page).

After Strobelt, Gehrmann, Pfister & Rush, "LSTMVis: A Tool for Visual Analysis of
Hidden State Dynamics in Recurrent Neural Networks" (IEEE VIS 2017):

* :mod:`.traces`: the held-out text of a run and its recurrent layer's outputs
  ``(T, H)``, for character models, text classifiers and translation encoders;
* :mod:`.rules`: the select and match rules on quantised activations (the page's
  JavaScript implements the same rules; a browser test checks they agree);
* :mod:`.page`: the self-contained page (``page.html`` + ``page.js``, inlined).
"""
