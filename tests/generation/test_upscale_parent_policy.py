"""An upscale is a new release of its parent's pixels: once the model that made the parent may no
longer be used (its training data's owner opted out, its licence expired, the policy dropped
it), its released images are not upscaled into new ones either, through the API or the portal;
a parent whose model is still usable is upscaled as before."""

import pytest

from generation.models import GenerationJob
from generation.submission import JobRequest, job_submit
from licensing.models import DatasetItem
from mintmark.errors import ApiError
from policies.services import policy_create
from tests.generation.test_upscale import folders, released_asset, setup, small  # noqa: F401
from tests.mm_api_support import make_dataset, model_folder, register_at


@pytest.fixture
def parent(personas, setup, tmp_path):  # noqa: F811
    # A generator trained on a dataset of its own (the upscaler's stays usable throughout).
    drawings, _ = make_dataset(setup["org"], name="Drawings", seeds=(4,))
    generator = register_at(
        setup["org"], model_folder(tmp_path, "sd-drawings"), name="drawer", datasets=[drawings]
    )
    asset = released_asset(personas["staff"], generator, small(31, 32))
    return {"asset": asset, "generator": generator, "drawings": drawings}


def upscale_of(persona, asset):
    req = JobRequest(prompt="sharper", model="x4", mode="upscale", steps=2, parent_asset=asset.pk)
    return job_submit(membership=persona.membership, req=req)


def test_a_parent_whose_model_is_no_longer_usable_is_not_upscaled(personas, setup, parent):  # noqa: F811
    staff = personas["staff"]
    DatasetItem.objects.filter(dataset=parent["drawings"]).update(
        consent=DatasetItem.Consent.OPTED_OUT
    )
    with pytest.raises(ApiError) as caught:
        upscale_of(staff, parent["asset"])
    error = caught.value
    assert (error.status, error.code) == (409, "parent_not_licensed"), error.detail
    assert "drawer:1" in error.detail and "opted out" in error.detail
    # The portal's action is refused with the same reason, and no job is left behind.
    action = f"/o/acme/assets/{parent['asset'].pk}/upscale/"
    page = staff.portal().post(action, follow=True).content.decode()
    assert "Not upscaled" in page and "opted out" in page
    assert not GenerationJob.objects.filter(mode="upscale").exists()


def test_a_parent_of_a_model_the_policy_no_longer_lists_is_not_upscaled(
    personas,
    setup,  # noqa: F811
    parent,
):
    staff = personas["staff"]
    assert upscale_of(staff, parent["asset"]).parent_asset_id == parent["asset"].pk
    rules = setup["org"].policies.order_by("-version").first().rules
    policy_create(org=setup["org"], actor=None, rules={**rules, "allowed_models": ["x4"]})
    with pytest.raises(ApiError) as caught:
        upscale_of(staff, parent["asset"])
    assert (caught.value.status, caught.value.code) == (409, "parent_not_licensed")
    assert "does not list this model" in caught.value.detail
