"""Topic tagging: the team's keyword taxonomy, phrase and context rules, and a small linear
model trained on labelled comments and shipped as JSON (see docs/architecture.md, "Topic
tagging").

``load_tagger(settings)`` gives the ``Tagger`` the store calls for every comment
(``Tagger.tag(text) -> list[str]``); ``learn(examples, settings)`` trains an installation model
from a team's corrections. Training (``python -m app.tagging.train``) needs scikit-learn;
tagging needs only the JSON files.
"""

from app.tagging.learn import LearnReport, learn
from app.tagging.tagger import Tagger, load_tagger, local_model_path

__all__ = ["LearnReport", "Tagger", "learn", "load_tagger", "local_model_path"]
