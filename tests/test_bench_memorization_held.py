"""bench/memorization_held.py: how much of a training item's foreground an image reproduces."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(
        "memorization_held", ROOT / "bench/memorization_held.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_copy_reproduces_its_items_foreground_and_another_item_does_not():
    script = load_script()
    from defaultmodel import scenes

    item, other = 101, 4242
    own = np.asarray(scenes.training_item(item).image.convert("RGB"))
    assert script.foreground_difference(own, item) < 0.01
    assert script.foreground_difference(script._jpeg_copy(item, 0.5, 50), item) < 0.5
    elsewhere = np.asarray(scenes.training_item(other).image.convert("RGB"))
    assert script.foreground_difference(elsewhere, item) > 0.6
