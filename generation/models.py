import uuid

from django.conf import settings
from django.db import models

from generation.weights import folder_native_size
from orgs.scoping import OrgScopedQuerySet, scoped_queryset


class GenerativeModel(models.Model):
    """A registered model: a local diffusers folder, its weights' digest, and the datasets it
    was trained on, from which its licence posture is derived. It can be used only once its
    weights are verified (READY): registering through the API hashes them in a task."""

    class State(models.TextChoices):
        VERIFYING = "verifying"
        READY = "ready"
        FAILED = "failed"

    class Family(models.TextChoices):
        SD15 = "sd15", "Stable Diffusion 1.x"
        SDXL = "sdxl", "Stable Diffusion XL"
        SD3 = "sd3", "Stable Diffusion 3"
        FLUX = "flux", "Flux"
        OTHER = "other", "Other latent diffusion"
        UPSCALER = "upscaler", "Upscaler x4"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="models")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    family = models.CharField(max_length=16, choices=Family.choices)
    local_path = models.CharField(max_length=1000)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.VERIFYING)
    verify_bytes_done = models.BigIntegerField(default=0)
    verify_bytes_total = models.BigIntegerField(null=True, blank=True)
    verify_error = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # When the verifying task last reported (or the model was registered): a model that stays
    # VERIFYING with no report for STALE_JOB_MINUTES lost its task and is queued again.
    verify_heartbeat_at = models.DateTimeField(null=True, blank=True)
    trained_on = models.ManyToManyField("licensing.Dataset", related_name="models_trained")
    model_card = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name", "version"], name="model_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def native_size(self) -> int | None:
        return folder_native_size(self.local_path)


class LoraAdapter(models.Model):
    """A LoRA adapter folder (safetensors, as diffusers' `save_lora_weights` writes it) for one
    base model, with the datasets it was fine-tuned on: a job that names it counts them with the
    base model's in the licence posture, the memorization check and the provenance record.
    Registered with its weights hashed (ready at once, as operators' commands register models);
    the worker refuses to load a folder that no longer matches the digest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="adapters")
    base_model = models.ForeignKey(
        GenerativeModel, on_delete=models.PROTECT, related_name="adapters"
    )
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    local_path = models.CharField(max_length=1000)
    weights_sha256 = models.CharField(max_length=64)
    trained_on = models.ManyToManyField("licensing.Dataset", related_name="adapters_trained")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name", "version"], name="adapter_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


class ControlNet(models.Model):
    """A ControlNet folder (diffusers' ControlNetModel, safetensors) for one base model, with the
    kind of control image it was trained on: a job that asks for that kind conditions the base
    model's denoising on its control image through it (generation/controlnets.py). Registered
    with its weights hashed; the worker refuses to load a folder that no longer matches."""

    class Kind(models.TextChoices):
        CANNY = "canny", "Canny edges"
        DEPTH = "depth", "Depth map"
        SCRIBBLE = "scribble", "Scribble"
        POSE = "pose", "Pose skeleton"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(
        "orgs.Organization", on_delete=models.PROTECT, related_name="controlnets"
    )
    base_model = models.ForeignKey(
        GenerativeModel, on_delete=models.PROTECT, related_name="controlnets"
    )
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    local_path = models.CharField(max_length=1000)
    weights_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name", "version"], name="controlnet_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"


class GenerationJob(models.Model):
    """One request: a prompt and parameters that produce `num_images` assets. State changes
    happen only in generation/transitions.py."""

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        GATING = "GATING"
        IN_REVIEW = "IN_REVIEW"
        RELEASED = "RELEASED"
        BLOCKED = "BLOCKED"
        REJECTED = "REJECTED"
        FAILED = "FAILED"
        CANCELLED = "CANCELLED"

    class Mode(models.TextChoices):
        TEXT_TO_IMAGE = "text-to-image"
        IMAGE_TO_IMAGE = "image-to-image"
        INPAINT = "inpaint"
        UPSCALE = "upscale"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey("orgs.Organization", on_delete=models.PROTECT, related_name="jobs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="generation_jobs"
    )
    model = models.ForeignKey(GenerativeModel, on_delete=models.PROTECT, related_name="jobs")
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="jobs")
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    steps = models.PositiveIntegerField()
    guidance_scale = models.FloatField()
    scheduler = models.CharField(max_length=32)
    strength = models.FloatField(null=True, blank=True)
    num_images = models.PositiveIntegerField()
    context = models.CharField(max_length=32, blank=True)
    # Where the webhooks app POSTs the job's outcome (README "Webhooks"); checked at submit.
    callback_url = models.CharField(max_length=2000, blank=True)
    seeds = models.JSONField(help_text="One seed per image, drawn at submit when not given.")
    # The LoRA adapters applied, in order: [{"id", "name", "version", "weight", "sha256",
    # "path"}] as they were at submit. Jobs batch together only with equal lists (worker.py).
    adapters = models.JSONField(default=list, blank=True)
    # The ControlNet conditioning the job: {"id", "name", "version", "kind", "scale",
    # "preprocess", "sha256", "path"} as at submit, {} for none; its control image (after any
    # preprocessing) is control_image_key. Jobs batch only with an equal entry (worker.py).
    controlnet = models.JSONField(default=dict, blank=True)
    control_image_key = models.CharField(max_length=300, blank=True)
    input_image_key = models.CharField(max_length=300, blank=True)
    # An upscale of a released asset: that asset (its pixels are input_image_key, its signed
    # file the parent ingredient of the output's content credentials); null for an upload.
    parent_asset = models.ForeignKey(
        "Asset", on_delete=models.PROTECT, null=True, blank=True, related_name="upscales"
    )
    mask_image_key = models.CharField(max_length=300, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The Celery task id of the run that holds this job: its redelivery may take the job back,
    # any other task leaves it alone.
    claimed_by = models.CharField(max_length=64, blank=True)
    # Images this job holds against the monthly quota; zero once it FAILED or was CANCELLED.
    quota_images = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When it entered its current state (null: still the state it was created in), for the
    # time-in-state metrics.
    state_changed_at = models.DateTimeField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["org", "created_at"]),
            models.Index(fields=["org", "user", "created_at"]),
            models.Index(fields=["state", "model", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state})"


class Asset(models.Model):
    """One generated image. Its file lives in quarantine storage until it is released."""

    class State(models.TextChoices):
        QUARANTINED = "QUARANTINED"
        IN_REVIEW = "IN_REVIEW"
        BLOCKED = "BLOCKED"
        REJECTED = "REJECTED"
        RELEASED = "RELEASED"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.PROTECT, related_name="assets")
    index = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUARANTINED)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    phash = models.CharField(max_length=16)
    dhash = models.CharField(max_length=16)
    whash = models.CharField(max_length=16)
    quarantine_key = models.CharField(max_length=300)
    release_key = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = scoped_queryset("job__org").as_manager()

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            # A redelivered task writes the same (job, index) again instead of a second asset.
            models.UniqueConstraint(fields=["job", "index"], name="asset_one_per_index"),
        ]

    def __str__(self) -> str:
        return f"asset {self.pk} ({self.state})"
