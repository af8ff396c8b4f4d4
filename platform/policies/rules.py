"""The schema of a policy's rules (plain pydantic, no Django).

A policy is validated in full before it is stored; unknown keys are refused so a typo cannot
silently switch a rule off."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Sexual content involving minors is blocked by every policy; no rule set can remove it.
MANDATORY_CATEGORY = "sexual_minors"

PROMPT_CATEGORIES = (
    MANDATORY_CATEGORY,
    "non_consensual_intimate",
    "sexual",
    "impersonation",
    "graphic_violence",
    "hate",
    "self_harm",
)
DEPLOYMENT_CONTEXTS = ("political", "medical", "legal", "biometric", "evidentiary")
IMAGE_CLASSIFIERS = ("clip_concepts", "nudenet")
# The scores those classifiers give (moderation/data/clip_concepts.yaml; NudeNet's nudity). A
# threshold under any other name would never apply: a misspelt one is refused, not left to
# switch its score's block off in silence.
IMAGE_SCORES = ("nudity", "violence", "unsafe")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuotaRules(_Strict):
    org_monthly_images: int = Field(
        10_000, ge=0, le=100_000_000, description="Images the organization may make per month."
    )
    user_monthly_images: int = Field(
        1_000,
        ge=0,
        le=100_000_000,
        description="Images one member may make per month; at most the organization's.",
    )


class PromptRules(_Strict):
    blocked_categories: list[Literal[PROMPT_CATEGORIES]] = Field(
        default_factory=lambda: list(PROMPT_CATEGORIES),
        description="Prompts in these categories are blocked; sexual_minors always is.",
    )
    blocked_terms: list[str] = Field(
        default_factory=list,
        max_length=5_000,
        description="Words or phrases that block a prompt containing them.",
    )
    protected_names: list[str] = Field(
        default_factory=list,
        max_length=5_000,
        description="People protected from impersonation: a prompt naming one is blocked.",
    )
    max_length: int = Field(1_000, ge=1, le=10_000, description="Longest prompt, in characters.")
    lookalikes: Literal["report", "block"] = Field(
        "report",
        description="Words written with look-alike letters of another script (a Cyrillic "
        "'a', U+0430, inside a Latin word): always judged as their Latin reading and reported; "
        "'block' also refuses the prompt.",
    )

    @field_validator("blocked_categories")
    @classmethod
    def _keep_mandatory(cls, value: list[str]) -> list[str]:
        if MANDATORY_CATEGORY not in value:
            raise ValueError(
                f"'{MANDATORY_CATEGORY}' is blocked by every policy and cannot be removed"
            )
        return sorted(set(value), key=PROMPT_CATEGORIES.index)

    @field_validator("blocked_terms", "protected_names")
    @classmethod
    def _clean_terms(cls, value: list[str]) -> list[str]:
        terms = [term.strip() for term in value]
        if any(not term or len(term) > 200 for term in terms):
            raise ValueError("terms must be 1 to 200 characters")
        return sorted(set(terms))


class ImageSafetyRules(_Strict):
    required_classifiers: list[Literal[IMAGE_CLASSIFIERS]] = Field(
        default_factory=list,
        description="Classifiers that score every image; one that cannot load stops release.",
    )
    thresholds: dict[str, float] = Field(
        default_factory=lambda: {"nudity": 0.5, "violence": 0.6, "unsafe": 0.5},
        description="A score at or over its threshold (a probability, 0 to 1) blocks the image.",
    )

    @field_validator("thresholds")
    @classmethod
    def _known_scores_in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        for name, threshold in value.items():
            if name not in IMAGE_SCORES:
                raise ValueError(
                    f"no classifier gives a score {name!r}; the scores are "
                    + ", ".join(IMAGE_SCORES)
                )
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold {name!r} must be between 0 and 1")
        return value


class MemorizationRules(_Strict):
    """Two stages: a wide search of the training items' perceptual hashes finds candidates, then
    each candidate is compared with the image pixel by pixel (moderation.copy_detection); the
    comparison decides. Input images of edit jobs go through the same check before queueing."""

    enabled: bool = Field(True, description="Compare every image with the training items.")
    max_hamming: int = Field(
        8,
        ge=0,
        le=32,
        description="Items whose pHash and dHash or wHash are within this many bits of the "
        "image are always compared, beyond the `candidates` cap.",
    )
    candidate_radius: int = Field(
        16,
        ge=0,
        le=32,
        description="The wide search: items within this many bits of the image on any of "
        "pHash, dHash and wHash (or of its mirror image) are candidates.",
    )
    candidates: int = Field(
        32,
        ge=1,
        le=256,
        description="The nearest candidates (by pHash + dHash distance) compared pixel by pixel.",
    )
    min_similarity: float = Field(
        0.94,
        ge=0.5,
        le=1.0,
        description="A candidate whose similarity (1 - the largest per-tile RMS pixel "
        "difference, after aligning) is at or over this is a copy when it also stands out "
        "from its neighbours (max_neighbour_ratio).",
    )
    exact_similarity: float = Field(
        0.97,
        ge=0.5,
        le=1.0,
        description="A candidate at or over this similarity is a copy whatever its neighbours.",
    )
    max_neighbour_ratio: float = Field(
        0.2,
        ge=0.0,
        le=1.0,
        description="A candidate stands out when its pixel distance is at most this share of "
        "the mean distance of the next 5 candidates compared: an output of a plain scene is "
        "about as close to many items, a copy much closer to its own.",
    )
    embedding_similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="The earlier name of min_similarity; when set, it is used instead.",
    )
    inputs: Literal["refuse", "review"] = Field(
        "refuse",
        description="An edit job whose input image is a copy of a training item: refused "
        "(422 input_memorized), or queued with its images held for review.",
    )

    @property
    def similarity_limit(self) -> float:
        """The similarity at or over which a candidate is a copy."""
        if self.embedding_similarity is not None:
            return self.embedding_similarity
        return self.min_similarity


# What an anonymous caller of /api/verify learns about an image this platform issued.
DISCLOSABLE = ("org", "model", "created_at", "policy_version", "datasets")


class ProvenanceRules(_Strict):
    # Every released image is watermarked and carries signed content credentials; the schema
    # records that rather than letting a policy switch disclosure off.
    watermark: Literal[True] = True
    c2pa: Literal[True] = True
    training_and_mining: Literal["allowed", "notAllowed", "constrained"] = Field(
        "notAllowed", description="What the content credentials say about AI training on images."
    )
    public_disclosure: list[Literal[DISCLOSABLE]] = Field(
        default_factory=lambda: ["org", "model", "created_at"],
        description="What anyone verifying an image issued here is told.",
    )


class AbuseRules(_Strict):
    # Blocked prompts plus blocked images within the window; reaching the limit suspends the
    # user from generating until an admin lifts it. 0 disables suspension.
    max_blocked: int = Field(
        10, ge=0, le=100_000, description="Blocked requests that suspend a user; 0: never."
    )
    window_hours: int = Field(
        24, ge=1, le=24 * 365, description="The window the blocked requests are counted in."
    )


class AdapterRules(_Strict):
    allowed: list[str] = Field(
        default_factory=list,
        description="LoRA adapter names (or name:version) jobs may apply; empty: every "
        "registered adapter of the chosen model.",
    )
    max_per_job: int = Field(2, ge=0, le=8, description="Adapters one job may apply; 0: none.")
    max_weight: float = Field(
        1.0, gt=0.0, le=2.0, description="Largest weight (LoRA scale) a job may give an adapter."
    )


class ControlNetRules(_Strict):
    allowed: list[str] = Field(
        default_factory=list,
        description="ControlNet names (or name:version) jobs may use; empty: every registered "
        "ControlNet of the chosen model.",
    )
    max_scale: float = Field(
        2.0,
        gt=0.0,
        le=2.0,
        description="Largest conditioning scale a job may give its ControlNet.",
    )


class PolicyRules(_Strict):
    allowed_models: list[str] = Field(
        default_factory=list,
        description="Model names (or name:version) staff may use; empty: every licensed model.",
    )
    commercial_use: bool = Field(
        True, description="Outputs are used commercially: every training licence must allow it."
    )
    allow_opted_out_models: bool = Field(
        False, description="Models trained on items whose owner opted out stay usable."
    )
    max_width: int = Field(1024, ge=64, le=4096, multiple_of=8, description="Pixels.")
    max_height: int = Field(1024, ge=64, le=4096, multiple_of=8, description="Pixels.")
    max_steps: int = Field(50, ge=1, le=500, description="Denoising steps per image.")
    max_images_per_job: int = Field(4, ge=1, le=64)
    quota: QuotaRules = Field(default_factory=QuotaRules)
    prompt: PromptRules = Field(default_factory=PromptRules)
    image_safety: ImageSafetyRules = Field(default_factory=ImageSafetyRules)
    memorization: MemorizationRules = Field(default_factory=MemorizationRules)
    review_contexts: list[Literal[DEPLOYMENT_CONTEXTS]] = Field(
        default_factory=lambda: list(DEPLOYMENT_CONTEXTS),
        description="Deployment contexts whose images a reviewer approves before release.",
    )
    provenance: ProvenanceRules = Field(default_factory=ProvenanceRules)
    adapters: AdapterRules = Field(default_factory=AdapterRules)
    controlnets: ControlNetRules = Field(default_factory=ControlNetRules)
    abuse: AbuseRules = Field(default_factory=AbuseRules)

    @model_validator(mode="after")
    def _quota_consistent(self) -> "PolicyRules":
        if self.quota.user_monthly_images > self.quota.org_monthly_images:
            raise ValueError("quota.user_monthly_images cannot exceed quota.org_monthly_images")
        return self


def default_rules() -> dict:
    return PolicyRules().model_dump(mode="json")
