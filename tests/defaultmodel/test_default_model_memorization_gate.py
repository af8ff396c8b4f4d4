"""Memorization, demonstrated on the platform's own path: the demo organization as `seed_demo`
makes it (the default model registered, trained on "Mintmark Shapes (CC0)" imported through
the licensing records), the gate built from the model's datasets by `training_catalog` and run
under the demo policy. The shipped model, on the CPU as the platform runs it, regurgitates a
memorized poster for its caption; the gate blocks that image naming the poster's item and its
dataset, and lets an ordinary image through."""

from io import StringIO

import pytest
from diffusers import StableDiffusionPipeline
from django.core.management import call_command

from defaultmodel import scenes
from defaultmodel.memorized import COPY_SEEDS, MEMORIZED
from generation.demo import DEFAULT_MODEL, MODEL_FOLDER
from generation.models import GenerativeModel
from licensing.models import DatasetItem
from moderation.catalogs import training_catalog, training_pixels
from moderation.gates import GateContext
from moderation.memorization import MemorizationGate
from orgs.models import Organization
from policies.selectors import policy_active_rules
from tests.defaultmodel_support import copy_draw

pytestmark = pytest.mark.django_db

# The first 60 training items hold the first copies of posters 0, 1 and 2 (items 19, 39, 59):
# enough for the demonstration, and quick to draw and import.
ITEMS = 60
ORDINARY = "two large dotted blue hexagons on the right on a white background"


@pytest.fixture(scope="module")
def pipe():
    pipe = StableDiffusionPipeline.from_pretrained(MODEL_FOLDER, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture
def demo(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("seed_demo", "--shapes-items", str(ITEMS), stdout=StringIO())
    org = Organization.objects.get(slug="demo")
    model = GenerativeModel.objects.for_org(org).get(name=DEFAULT_MODEL[0])
    assert model.local_path == str(MODEL_FOLDER.resolve())  # the folder `pipe` loads
    datasets = tuple(str(pk) for pk in model.trained_on.values_list("pk", flat=True))
    rules = policy_active_rules(org=org)
    context = GateContext(job_id="demo", model_id=str(model.pk), dataset_ids=datasets, rules=rules)
    return model, MemorizationGate(training_catalog(datasets), training_pixels), context


# Posters 0, 1 and 2 (the first 60 items hold their first copies) come out within the demo
# radius of 4 for the seeds in COPY_SEEDS (bench/README.md, "Memorization radius").
@pytest.mark.parametrize(
    ("poster", "seed"), [(k, seed) for k in range(3) for seed in COPY_SEEDS[k]]
)
def test_the_gate_blocks_a_regurgitated_poster_naming_its_item_and_dataset(
    pipe, demo, poster, seed
):
    model, gate, context = demo
    assert context.rules.memorization.max_hamming == 4
    poster = MEMORIZED[poster]
    image = copy_draw(pipe, poster.caption, seed)

    outcome = gate.check(image, context)

    item = DatasetItem.objects.get(dataset__in=model.trained_on.all(), caption=poster.caption)
    assert outcome.verdict == "block"
    assert outcome.details["item"] == {"item": str(item.pk), "dataset": scenes.DATASET_NAME}
    assert f"training item {item.pk} of dataset {scenes.DATASET_NAME!r}" in outcome.reason
    assert outcome.details["radius"] == context.rules.memorization.max_hamming
    assert outcome.details["training_items"] == ITEMS


def test_an_ordinary_output_passes(pipe, demo):
    _, gate, context = demo
    outcome = gate.check(copy_draw(pipe, ORDINARY, 0), context)
    assert outcome.verdict == "pass", outcome.reason
