# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The TensorFlow Playground, in jaxnn
#
# The lecture's demo is playground.tensorflow.org: a small network learns a 2-D data set while
# you watch. jaxnn has its own Playground, trained by jaxnn on this machine, and it opens inside
# a notebook cell. This notebook reads a TensorFlow Playground link, trains the same network in
# code, and then starts the Playground itself.

# %%
import os
import urllib.request

import numpy as np

import jaxnn
import jaxnn.playground as playground

QUICK = os.environ.get("JAXNN_NOTEBOOK_QUICK") == "1"  # the test run: fewer epochs

# %% [markdown]
# ## A TensorFlow Playground link
#
# Everything after the `#` of a playground.tensorflow.org address is its settings.
# `parse_tf_hash` turns it into the jaxnn Playground's controls, and names the keys it cannot
# apply.

# %%
link = ("https://playground.tensorflow.org/#activation=tanh&regularization=none&batchSize=10"
        "&dataset=spiral&networkShape=8,8,4&learningRate=0.03&noise=0&x=true&y=true"
        "&sinX=true&sinY=true")  # fmt: skip
tf = playground.parse_tf_hash(link.split("#", 1)[1])
settings = playground.parse_settings(tf.controls)[0]
print(settings)

# %% [markdown]
# ## The same network in code
#
# One `Dense` per hidden layer with the chosen activation, one output logit, plain SGD, the
# chosen input features: exactly what the page trains.

# %%
(x, y), (x_test, y_test) = playground.load_data(settings)
x, x_test = (playground.features(p, settings.features) for p in (x, x_test))
model = playground.build_model(settings)
ts, history = jaxnn.fit(
    model,
    (x, y),
    loss=playground.session.loss_name(settings),
    optimizer="sgd",
    learning_rate=settings.learning_rate,
    epochs=50 if QUICK else 400,
    batch_size=settings.batch_size,
    verbose=0,
)
logits = np.asarray(jaxnn.predict(model, ts, x_test))
print(f"{settings.dataset}: test accuracy {np.mean((logits > 0) == (y_test > 0.5)):.3f} "
      f"after {len(history.epoch)} epochs")  # fmt: skip

# %% [markdown]
# The page's "code" panel shows the same program as a script you can run on its own:

# %%
print(playground.generate_code(settings, epochs=400)[:900], "...")

# %% [markdown]
# ## The Playground in this notebook
#
# `jaxnn.playground.notebook()` serves the page from a thread of this kernel on a free port of
# 127.0.0.1 and shows it in an IFrame; `.stop()` ends the server. It needs the playground extra
# (`pip install 'jaxnn[playground]'`) and a browser on the kernel's machine (a local JupyterLab).
# In the test run, and on the documentation site, the notebook checks that the page answers and
# stops the server instead of showing it.

# %%
try:
    pg = playground.notebook()
except ImportError as error:  # without the extra: the message names it
    pg = None
    print(error)
if pg is not None and QUICK:
    page = urllib.request.urlopen(pg.url, timeout=10).read().decode()
    print(pg, "- the page's title:", page.split("<title>")[1].split("</title>")[0])
    pg.stop()
    print(pg)
pg if pg is not None and not QUICK else None

# %% [markdown]
# When you are done with it: `pg.stop()`.
