"""Learn: the method in plain words, with a live toy probe and a lambda slider."""

from __future__ import annotations

import streamlit as st

from neuronviz.analyses.toy import (
    CLASSES,
    HIDDEN,
    LAMBDA_STEPS,
    LAYERS,
    ToyFit,
    fit_toy,
    toy_problem,
)
from neuronviz.figures.neurons import toy_weights_figure
from pages._shared import chart, page_header


@st.cache_data(show_spinner=False)
def toy_fit(lambda1: float) -> ToyFit:
    return fit_toy(lambda1)


page_header("Learn: how neuron probing works")
st.markdown(
    "neuronviz asks of a language model: **which of its neurons know a linguistic property of "
    "a word**, such as its part of speech? It follows Durrani et al., *Analyzing Individual "
    "Neurons in Pre-trained Language Models* (EMNLP 2020). Each step below is what the other "
    "pages show for real models."
)

st.header("1. A probe")
st.markdown(
    "Run the model on annotated sentences and record, for every word, the activation of every "
    "neuron (all layers side by side: `minilm` has 7 x 384 = 2,688). A **probe** is a linear "
    "classifier that predicts the word's class (its POS tag, say) from those activations. It "
    "is trained on some sentences and scored on others it never saw. If a *linear* probe "
    "succeeds, the property can be read off the neurons directly."
)

st.header("2. The elastic net picks neurons")
st.markdown(
    "The probe minimises the cross-entropy of its predictions **plus two penalties** on its "
    "weights: `lambda1 * sum |w|` (L1) and `lambda2 * sum w^2` (L2). The L1 term pushes "
    "weights to *exactly* zero, so the probe uses few neurons; the stronger `lambda1`, the "
    "fewer. The L2 term shares weight among neurons that carry the same signal instead of "
    "keeping one of them at random."
)
st.subheader("Try it: a toy model with 24 neurons")
signals = toy_problem().signal_neurons
echoes = toy_problem().echo_neurons
st.markdown(
    f"This toy has {LAYERS} layers of {HIDDEN} neurons and words of four classes. By "
    "construction, one neuron signals each class strongly ("
    + ", ".join(f"`{ToyFit.label(n)}` {c}" for c, n in signals.items())
    + "), two carry weaker, noisier copies ("
    + ", ".join(f"`{ToyFit.label(n)}` {c}" for c, n in echoes.items())
    + "), and the other 18 are noise. Move the slider and watch which weights survive."
)
lambda1 = st.select_slider(
    "lambda1 (strength of the L1 penalty)",
    options=list(LAMBDA_STEPS),
    value=1e-2,
    format_func=lambda v: f"{v:g}",
    key="learn_lambda",
)
fit = toy_fit(float(lambda1))
labels = [ToyFit.label(n) for n in range(LAYERS * HIDDEN)]
c1, c2, c3 = st.columns(3)
c1.metric("neurons used", f"{len(fit.selected)} of {len(labels)}")
c2.metric("test accuracy", f"{100 * fit.test_accuracy:.1f}%")
c3.metric("top of the ranking", ", ".join(ToyFit.label(n) for n in fit.order[:4]) or "none")
chart(toy_weights_figure(fit, CLASSES, labels), key="learn_toy")
noise_used = [n for n in fit.selected if n not in signals.values() and n not in echoes.values()]
if not fit.selected:
    st.info(
        "So strong a penalty zeroes every weight: the probe only knows how common each class is."
    )
elif noise_used:
    st.info(
        f"With this little penalty {len(noise_used)} noise neurons keep some weight: they fit "
        "chance patterns of the training words. Raise lambda1 to see them drop out first."
    )
else:
    st.success(
        "Only signal neurons (and their weaker copies) keep weight: the penalty has removed "
        "every noise neuron while accuracy held. This is the regime neuronviz looks for."
    )

st.header("3. Ranking neurons by weight mass")
st.markdown(
    "The trained weights rank the neurons (the paper's *Linguistic Correlation Analysis*). For "
    "each class, sort neurons by the size of their weight and take the fewest that carry 1%, "
    "then 2%, ... of the class's total weight; a neuron enters the ranking at the first step "
    "where any class selects it. With hundreds of classes, many of them rare (CCG supertags), "
    "counting every class alike fills the top with neurons of classes that hardly occur, so "
    "neuronviz can weight classes by frequency and picks the weighting that separates best on "
    "held-out data."
)

st.header("4. Minimal neuron sets, and the check every ranking must pass")
st.markdown(
    "Retrain a probe on the top *k* neurons of the ranking for growing *k*. The **minimal "
    "set** is the smallest top-*k* whose accuracy is within 1 point of the probe on all "
    "neurons: for POS in `minilm` about a tenth of the neurons. A ranking means something "
    "only if its top neurons beat **random** neurons of the same number, and random ones beat "
    "the **bottom** of the ranking; every analysis measures this and warns when it fails."
)

st.header("5. Control tasks and selectivity")
st.markdown(
    "A probe might succeed by memorising which word it sees rather than reading a linguistic "
    "property. A **control task** (Hewitt and Liang, 2019) gives every word type a random "
    "label, fixed per word: only memorising can learn it. **Selectivity** = accuracy on the "
    "real task minus accuracy on the control task. High selectivity means the neurons encode "
    "the property, not just the word's identity."
)

st.header("Where to look next")
cols = st.columns(4)
cols[0].page_link("pages/overview.py", label="Overview", icon=":material/summarize:")
cols[1].page_link("pages/heatmap.py", label="Top neurons", icon=":material/grid_on:")
cols[2].page_link("pages/layers.py", label="Layers", icon=":material/stacked_bar_chart:")
cols[3].page_link("pages/explorer.py", label="Neuron explorer", icon=":material/neurology:")
