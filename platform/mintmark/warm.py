"""Loading what the first requests of a web process would otherwise wait for."""

import os
import threading


def _warm_prompt_gate() -> None:
    # The prompt classifier and its second reading for other languages take seconds each to
    # load; load them now, beside the first requests, rather than inside a submission. A
    # failure here is reported again (as a 503) by the request that needs it.
    from moderation.prompt_classifier import ClassifierUnavailable, load_classifier
    from moderation.prompt_multilingual import load_multilingual

    try:
        # At the process's own priority: every submission waits for this one (under its lock),
        # and a request waiting on a thread at the lowest priority waited past a minute on a
        # loaded machine.
        load_classifier()
        # The second reading, needed only for prompts in other languages, at the lowest
        # priority, for this thread only (Linux: nice is per thread): the process serves
        # requests meanwhile, and a machine running several web processes starts them all at
        # once.
        os.nice(19)
        load_multilingual()
    except ClassifierUnavailable:
        pass


def prompt_gate_warm() -> None:
    threading.Thread(target=_warm_prompt_gate, name="warm-prompt-gate", daemon=True).start()
