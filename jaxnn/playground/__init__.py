"""The Playground: a web page where a small network learns a 2-D data set live, on jaxnn.

``jaxnn playground`` serves it (:mod:`jaxnn.cli.playground`). The server holds the state and the
training (:class:`Session`, one per browser connection); the page only draws and sends the
controls; :func:`parse_tf_hash` reads a TensorFlow Playground link's ``#...`` into them. The
web server itself (:func:`jaxnn.playground.app.create_app`) needs the
``playground`` extra: ``pip install "jaxnn[playground]"``; :func:`notebook` serves it inside a
notebook cell.
"""

from jaxnn.playground.code import generate_code
from jaxnn.playground.notebook import NotebookPlayground, notebook
from jaxnn.playground.session import Session, build_model, features, load_data
from jaxnn.playground.settings import Settings, SettingsError, parse_settings
from jaxnn.playground.tfhash import TFLink, parse_tf_hash

__all__ = [
    "NotebookPlayground",
    "Session",
    "Settings",
    "SettingsError",
    "TFLink",
    "build_model",
    "features",
    "generate_code",
    "load_data",
    "notebook",
    "parse_settings",
    "parse_tf_hash",
]
