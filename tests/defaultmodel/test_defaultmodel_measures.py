"""The default model's measuring tools: the attribute classifier's plumbing, the Frechet
distance, the copy check built on the memorization gate's catalog, and the loss chart."""

import numpy as np
import pytest
import torch
from PIL import Image

from defaultmodel import classifier, evaluate, plot, scenes


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(800, 8))
    b = rng.normal(size=(800, 8))
    assert evaluate.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    near = evaluate.frechet_distance(a, b)
    # A mean shift of 3 along one axis adds 3**2 = 9.
    shifted = evaluate.frechet_distance(a, b + np.eye(8)[0] * 3.0)
    assert shifted == pytest.approx(near + 9.0, abs=0.3)
    wide = evaluate.frechet_distance(a, b * 2.0)
    assert wide > near + 5.0  # same mean, variances 4 instead of 1: 8 * (2 - 1)**2 = 8


def test_frechet_distance_survives_singular_covariances():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 64))  # fewer samples than dimensions
    b = rng.normal(size=(20, 64))
    assert np.isfinite(evaluate.frechet_distance(a, b))


def test_labels_and_accuracy():
    attributes = [
        {"shape": "star", "colour": "red", "count": 3, "position": "top", "size": "small",
         "texture": "solid", "background": "black"},
        {"shape": "circle", "colour": "blue", "count": 1, "position": "left", "size": "large",
         "texture": "dotted", "background": "white"},
    ]  # fmt: skip
    labels = classifier.labels_of(attributes)
    assert labels["shape"].tolist() == [3, 0] and labels["count"].tolist() == [2, 0]
    predictions = {name: value.clone() for name, value in labels.items()}
    predictions["colour"][1] = 0  # second image's colour wrong
    result = classifier.accuracy(predictions, labels)
    assert result["colour"] == 0.5 and result["shape"] == 1.0 and result["all"] == 0.5
    assert classifier.accuracy(predictions, labels, ("shape", "count"))["all"] == 1.0
    with pytest.raises(ValueError):
        classifier.labels_of([{**attributes[0], "colour": "pink"}])


def test_attribute_net_gives_one_logit_vector_per_head_and_features():
    torch.manual_seed(0)
    net = classifier.AttributeNet().eval()
    images = classifier.to_tensor(np.zeros((2, 64, 64, 3), dtype=np.uint8))
    assert images.shape == (2, 3, 64, 64) and float(images.max()) == 0.0
    logits = net(images)
    assert {name: tuple(v.shape) for name, v in logits.items()} == {
        name: (2, len(values)) for name, values in classifier.HEADS.items()
    }
    predictions, features = classifier.predict(net, images)
    assert features.shape == (2, classifier.FEATURES)
    assert predictions["count"].shape == (2,)


def test_copy_check_finds_the_copied_item_and_nothing_for_a_new_image():
    items = [scenes.training_item(i) for i in (3, 19, 40)]
    catalog = evaluate.catalog_of(["3", "19", "40"], [item.image for item in items])
    copy = np.asarray(items[1].image)
    other = np.asarray(scenes.render_poster(scenes.POSTERS[4]))
    check = evaluate.copy_check(np.stack([copy, other]), [items[1].image, items[1].image], catalog)
    assert check.phash_distances[0] == 0 and check.phash_distances[1] > 8
    assert check.gate_matches == [["19"], []]
    assert check.rate == 0.5


def test_generate_needs_one_seed_per_caption():
    with pytest.raises(ValueError, match="one seed per caption"):
        evaluate.generate(None, ["a red star"], [1, 2], guidance_scale=5.0)


def test_loss_chart_draws_one_panel_per_entry(tmp_path):
    path = plot.loss_chart(
        {
            "first": {"loss": [(1, 1.0), (50, 0.3), (100, 0.05)], "l1": [(1, 0.5), (100, 0.02)]},
            "second": {"loss": [(10, 2.0), (20, 2.0)]},
        },
        tmp_path / "curves.png",
    )
    with Image.open(path) as image:
        assert image.size == (plot.PANEL_W, 2 * plot.PANEL_H)
        pixels = np.asarray(image.convert("RGB"))
    # The first series' colour is drawn in each panel.
    blue = np.all(pixels == plot.COLOURS[0], axis=-1)
    assert blue[: plot.PANEL_H].any() and blue[plot.PANEL_H :].any()
